"""call_resending: a lost reply is recovered by a repeat; the latest answer is reported.
timeout_arg: a command-line tool's --timeout that would give up at once is refused."""

import argparse

import pytest

from gr00t_common.service_call import LATER_ANSWERS_S, call_resending, timeout_arg


class Future:
    def __init__(self) -> None:
        self._result = None
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, value) -> None:
        self._result, self._done = value, True

    def result(self):
        return self._result


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class FakeClient:
    """Answers request number n (0-based) `delays[n]` seconds after it is sent, or never
    (None): a reply the server could not deliver."""

    def __init__(self, clock: FakeClock, delays: list) -> None:
        self.clock, self.delays = clock, delays
        self.sent: list[tuple[float, Future]] = []
        self.removed: list[Future] = []

    def call_async(self, request):
        f = Future()
        self.sent.append((self.clock.t, f))
        return f

    def remove_pending_request(self, future) -> None:
        self.removed.append(future)

    def pump(self, seconds: float) -> None:
        self.clock.t += seconds
        for n, (sent_at, f) in enumerate(self.sent):
            delay = self.delays[n] if n < len(self.delays) else None
            if delay is not None and not f.done() and self.clock.t >= sent_at + delay:
                f.set_result(f"reply {n}")


def run(delays, timeout=20.0, resend_after=2.0):
    clock = FakeClock()
    client = FakeClient(clock, delays)
    reply = call_resending(client, "req", timeout, client.pump, resend_after, clock)
    return reply, client, clock


def test_a_prompt_reply_is_returned_without_a_repeat():
    reply, client, clock = run([0.01])
    assert reply == "reply 0"
    assert len(client.sent) == 1 and clock.t < 0.1


def test_a_lost_reply_is_recovered_by_a_repeat():
    reply, client, clock = run([None, 0.01])
    assert reply == "reply 1"
    assert len(client.sent) == 2
    assert 2.0 <= clock.t < 2.2


def test_repeats_back_off_and_give_up_at_the_timeout():
    reply, client, clock = run([None] * 10, timeout=20.0, resend_after=2.0)
    assert reply is None
    # sent at 0, 2, 6, 14 (intervals 2, 4, 8): four requests within 20 s
    assert [round(t) for t, _ in client.sent] == [0, 2, 6, 14]
    assert 20.0 <= clock.t < 20.1
    assert len(client.removed) == 4  # no future left pending in the client


def test_a_late_first_answer_gives_way_to_the_repeat_it_raced():
    # The first reply was slow, not lost: it arrives after the repeat was sent. The server
    # answers in order, so the repeat's answer (the state it left) follows and is reported.
    reply, client, clock = run([2.5, 0.6])
    assert reply == "reply 1"
    assert len(client.removed) == 0


def test_an_earlier_answer_is_reported_when_the_repeat_is_never_answered():
    reply, client, clock = run([2.5, None])
    assert reply == "reply 0"
    assert clock.t == pytest.approx(2.5 + LATER_ANSWERS_S, abs=0.05)
    assert len(client.removed) == 1


@pytest.mark.parametrize("timeout,resend_after", [(0.0, 2.0), (5.0, 0.0),
                                                  (float("nan"), 2.0)])
def test_non_positive_times_are_refused(timeout, resend_after):
    with pytest.raises(ValueError, match="must be > 0"):
        run([0.01], timeout=timeout, resend_after=resend_after)


def test_a_timeout_flag_takes_seconds_above_0_and_refuses_the_rest_naming_the_flag(capsys):
    # --timeout -1, 0 or nan used to give up at once and report the server as not answering
    # (gr00t-record stop: "is `gr00t-record run` up?", while the episode went on recording).
    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--timeout", type=timeout_arg, default=10.0)
    assert parser.parse_args([]).timeout == 10.0
    assert parser.parse_args(["--timeout", "2.5"]).timeout == 2.5
    for bad in ("-1", "0", "nan", "inf", "soon"):
        with pytest.raises(SystemExit) as info:
            parser.parse_args(["--timeout", bad])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert (f"argument --timeout: {bad!r} is not a number of seconds > 0; pass e.g. "
                "--timeout 10") in err, err
