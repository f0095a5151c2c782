"""TransitionCheck: a transition whose reply is lost is known made from the node's state."""

from types import SimpleNamespace

from gr00t_common.lifecycle_client import GOAL_STATE, TRANSITIONS, TransitionCheck


class Future:
    def __init__(self) -> None:
        self._result = None

    def done(self) -> bool:
        return self._result is not None

    def set_result(self, value) -> None:
        self._result = value

    def result(self):
        return self._result


class FakeLifecycle:
    """A managed node seen through its two services; replies are answered by the test."""

    def __init__(self) -> None:
        self.changes: list[Future] = []
        self.states: list[Future] = []
        self.forgotten: list[Future] = []

    def request(self, name):
        self.changes.append(Future())
        return self.changes[-1]

    def request_state(self):
        self.states.append(Future())
        return self.states[-1]

    def forget(self, future) -> None:
        self.forgotten.append(future)


def state(label: str):
    return SimpleNamespace(current_state=SimpleNamespace(label=label))


def make(name="activate"):
    clock = SimpleNamespace(t=0.0)
    node = FakeLifecycle()
    check = TransitionCheck(node, name, ask_state_after=2.0, clock=lambda: clock.t)
    return check, node, clock


def test_every_transition_ends_in_a_state_other_than_its_start():
    starts = {"configure": "unconfigured", "activate": "inactive", "deactivate": "active",
              "cleanup": "inactive", "shutdown": "inactive"}
    assert set(TRANSITIONS) == set(starts)
    for name, start in starts.items():
        assert GOAL_STATE[name] != start


def test_the_reply_answers_and_the_state_is_never_asked():
    check, node, clock = make()
    assert check() is None
    node.changes[0].set_result(SimpleNamespace(success=True))
    assert check() is True
    assert node.states == []


def test_a_refusal_is_false():
    check, node, clock = make()
    node.changes[0].set_result(SimpleNamespace(success=False))
    assert check() is False


def test_a_lost_reply_is_made_good_by_the_goal_state():
    check, node, clock = make("activate")
    clock.t = 1.9
    assert check() is None and node.states == []
    clock.t = 2.0
    assert check() is None and len(node.states) == 1  # asks the state now
    node.states[0].set_result(state("activating"))   # the callback still runs
    clock.t = 2.1
    assert check() is None and len(node.states) == 1  # at most one question per 2 s
    clock.t = 4.0
    assert check() is None
    assert len(node.states) == 2                      # asks again
    node.states[1].set_result(state("active"))
    assert check() is True
    assert node.forgotten == [node.changes[0]]       # a late reply is dropped
    assert check() is True                            # the answer stays


def test_a_state_question_whose_reply_is_lost_is_asked_again():
    check, node, clock = make("configure")
    clock.t = 2.0
    check()
    clock.t = 3.9
    check()
    assert len(node.states) == 1
    clock.t = 4.0
    check()
    assert len(node.states) == 2 and node.forgotten == [node.states[0]]


def test_a_node_still_in_its_start_state_stays_unanswered():
    # A refusal whose reply was lost looks like this too: the caller's timeout names it.
    check, node, clock = make("configure")
    for step in range(1, 20):
        clock.t = step * 1.0
        if node.states and not node.states[-1].done():
            node.states[-1].set_result(state("unconfigured"))
        assert check() is None
