"""gr00t_system2.frames / params: the small pure pieces (no DDS)."""

import math

import numpy as np
import pytest

from gr00t_system2.frames import FrameStore, NoveltyGate
from gr00t_system2.params import ParameterError, validate

IMG = np.zeros((2, 2, 3), np.uint8)


def test_snapshot_missing_stale_and_oldest_stamp():
    store = FrameStore(["/a", "/b"])
    snap = store.snapshot(now=10.0, stale_s=1.0)
    assert snap.missing == {"/a": "never received", "/b": "never received"}
    store.put(0, IMG, stamp_ns=5_000, frame_id="cam_a", received=9.5)
    store.put(1, IMG, stamp_ns=3_000, frame_id="cam_b", received=8.0)
    snap = store.snapshot(now=10.0, stale_s=1.0)
    assert list(snap.missing) == ["/b"] and "stale" in snap.missing["/b"]
    assert snap.ages["/a"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        snap.oldest_stamp_ns()
    store.put(1, IMG, stamp_ns=4_000, frame_id="cam_b", received=9.9)
    snap = store.snapshot(now=10.0, stale_s=1.0)
    assert snap.complete and snap.oldest_stamp_ns() == 4_000 and snap.seqs() == (1, 2)
    # An unstamped camera (0) does not hide the stamped one's age; all unstamped and no
    # receipt time known: 0.
    store.put(1, IMG, stamp_ns=0, frame_id="cam_b", received=9.95)
    assert store.snapshot(now=10.0, stale_s=1.0).oldest_stamp_ns() == 5_000
    store.put(0, IMG, stamp_ns=0, frame_id="cam_a", received=9.96)
    assert store.snapshot(now=10.0, stale_s=1.0).oldest_stamp_ns() == 0


def test_an_unstamped_camera_ages_the_tokens_by_its_receipt_time():
    """A frozen camera stamping 0 must not go into tokens stamped as fresh as the other
    cameras' frames: its frame counts with its receipt time on the node clock."""
    store = FrameStore(["/a", "/b"])
    store.offer(0, "frozen", 0, "a", received=1.0, received_ns=1_000_000_000)
    (index, pending), = store.take_pending()
    store.put(index, IMG, pending.stamp_ns, pending.frame_id, pending.received,
              pending.received_ns)
    # the other camera goes on, stamped, 0.4 s later
    store.put(1, IMG, stamp_ns=1_390_000_000, frame_id="b", received=1.4,
              received_ns=1_400_000_000)
    snap = store.snapshot(now=1.4, stale_s=1.0)
    assert snap.oldest_stamp_ns() == 1_000_000_000  # the frozen view's age, not 1.39 s
    # every camera unstamped: the oldest receipt, not 0 (which System 1 reads as "now")
    store.put(1, IMG, stamp_ns=0, frame_id="b", received=1.5, received_ns=1_500_000_000)
    assert store.snapshot(now=1.5, stale_s=1.0).oldest_stamp_ns() == 1_000_000_000
    # a stamped frame keeps its stamp, whenever it arrived
    store.put(0, IMG, stamp_ns=1_450_000_000, frame_id="a", received=1.5,
              received_ns=1_500_000_000)
    assert store.snapshot(now=1.5, stale_s=1.0).oldest_stamp_ns() == 1_450_000_000


def test_novelty_gate_new_frame_or_new_instruction():
    store = FrameStore(["/a", "/b"])
    store.put(0, IMG, 1, "a", 0.0)
    store.put(1, IMG, 1, "b", 0.0)
    gate = NoveltyGate()
    snap = store.snapshot(0.1, 1.0)
    assert gate.is_new(snap, 0)
    gate.mark_used(snap, 0)
    assert not gate.is_new(store.snapshot(0.2, 1.0), 0)  # nothing new
    assert gate.is_new(store.snapshot(0.2, 1.0), 1)  # instruction changed
    store.put(1, IMG, 2, "b", 0.25)
    assert gate.is_new(store.snapshot(0.3, 1.0), 0)  # one camera has a new frame


def test_offered_messages_wait_unconverted_and_only_the_newest_is_taken():
    store = FrameStore(["/a", "/b"])
    assert store.take_pending() == []
    for index in (0, 0, 1):
        store.arrived(index)
    store.offer(0, "msg a1", 1, "a", 0.10)
    store.offer(0, "msg a2", 2, "a", 0.13)  # replaces a1 before any tick used it
    store.offer(1, "msg b1", 3, "b", 0.12)
    taken = store.take_pending()
    assert [(i, p.msg, p.stamp_ns, p.received) for i, p in taken] == [
        (0, "msg a2", 2, 0.13), (1, "msg b1", 3, 0.12)]
    assert store.take_pending() == []
    assert store.counts() == {"/a": (2, 1), "/b": (1, 0)}
    # Offering does not make a camera present: only converted frames count.
    assert store.snapshot(0.2, 1.0).missing == {"/a": "2 frames received, none converted yet",
                                                "/b": "1 frames received, none converted yet"}


def test_a_camera_whose_every_frame_is_rejected_is_not_reported_never_received():
    store = FrameStore(["/yuv", "/mixed", "/capped", "/quiet"])
    for _ in range(5):  # a yuv422 driver: every frame arrives and is refused on receipt
        store.arrived(0)
        store.reject(0, "encoding")
    for reason in ("step", "blank", "blank"):
        store.arrived(1)
        store.reject(1, reason)
    store.arrived(1)  # one more, not converted yet
    store.arrived(2)
    store.put(2, IMG, 1, "c", received=1.0)
    for _ in range(3):  # then a lens cap
        store.arrived(2)
        assert store.reject(2, "blank") == _ + 1
    snap = store.snapshot(now=3.0, stale_s=1.0)
    assert snap.missing == {
        "/yuv": "all 5 frames rejected (encoding)",
        "/mixed": "none of 4 frames usable yet (3 rejected: blank 2, step 1)",
        "/capped": "stale: last usable frame 2.00 s ago > stale_image_s=1.0; 3 frames "
                   "rejected since (blank)",
        "/quiet": "never received"}
    assert store.counts()["/yuv"] == (5, 0) and store.counts()["/capped"] == (4, 0)
    assert store.rejections() == {("/yuv", "encoding"): 5, ("/mixed", "step"): 1,
                                  ("/mixed", "blank"): 2, ("/capped", "blank"): 3}
    store.put(2, IMG, 2, "c", received=2.9)  # the cap comes off
    assert "/capped" not in store.snapshot(now=3.0, stale_s=1.0).missing
    store.put(2, IMG, 3, "c", received=2.9)
    assert store.rejections()[("/capped", "blank")] == 3  # the total stays


def good_params(tmp_path, **over):
    (tmp_path / "config.json").write_text("{}")
    values = dict(checkpoint=str(tmp_path), camera_topics=["/cam"], camera_qos="auto",
                  camera_transport="auto", rate_hz=10.0,
                  default_instruction="wave", device="cpu", backend="auto", cache_dir="",
                  dtype="float32",
                  token_dtype="float16", max_instruction_length=512, token_staleness_s=1.0,
                  stale_image_s=1.0, torch_threads=0)
    values.update(over)
    return values


@pytest.mark.parametrize("name,value,match", [
    ("checkpoint", "", "checkpoint is empty"),
    ("checkpoint", "/nonexistent/dir", "not a checkpoint directory"),
    ("camera_topics", [], "camera_topics is empty"),
    ("camera_topics", ["/a", "/a"], "twice"),
    ("camera_topics", ["/bad topic"], "not a valid topic name"),
    ("camera_qos", "sensor_data", "camera_qos='sensor_data'"),
    ("camera_transport", "theora", "camera_transport='theora'"),
    ("rate_hz", 0.0, "rate_hz=0.0"),
    ("rate_hz", math.inf, "rate_hz=inf"),
    ("stale_image_s", -1.0, "stale_image_s"),
    ("token_staleness_s", 0.0, "token_staleness_s=0.0"),
    ("token_staleness_s", 500.0, "token_staleness_s=500.0"),
    ("device", "tpu", "device='tpu' is not allowed: it must be cpu, cuda or cuda:N"),
    ("device", "gpu", "device='gpu' is not allowed"),
    ("device", "cuda:", "device='cuda:' is not allowed"),
    ("dtype", "int8", "dtype='int8'"),
    ("token_dtype", "bfloat16", "token_dtype='bfloat16'"),
    ("max_instruction_length", 0, "max_instruction_length=0"),
    ("torch_threads", -2, "torch_threads=-2"),
    ("backend", "tensorrt", "backend='tensorrt'"),
])
def test_params_validation_names_the_parameter(tmp_path, name, value, match):
    with pytest.raises(ParameterError, match=match):
        validate(good_params(tmp_path, **{name: value}))


def test_onnxruntime_backend_is_for_float32_on_the_cpu(tmp_path):
    assert validate(good_params(tmp_path)).backend == "auto"
    assert validate(good_params(tmp_path, backend="onnxruntime")).backend == "onnxruntime"
    for over in (dict(device="cuda"), dict(dtype="bfloat16")):
        with pytest.raises(ParameterError, match="backend='onnxruntime'.*use backend 'torch'"):
            validate(good_params(tmp_path, backend="onnxruntime", **over))
        assert validate(good_params(tmp_path, backend="auto", **over)).backend == "auto"


def test_stale_image_s_is_at_most_the_token_staleness_unless_given(tmp_path):
    """A frame that arrived longer ago than System 1's token limit only makes tokens it
    refuses (or, from an unstamped camera, tokens as old as that frame)."""
    # started by hand: both as before (1 s)
    p = validate(good_params(tmp_path, stale_image_s=None))
    assert (p.token_staleness_s, p.stale_image_s) == (1.0, 1.0)
    # gr00t-bringup passes the YAML's tokens_s (the G1: 0.5)
    assert validate(good_params(tmp_path, stale_image_s=None,
                                token_staleness_s=0.5)).stale_image_s == 0.5
    assert validate(good_params(tmp_path, stale_image_s=None,
                                token_staleness_s=3.0)).stale_image_s == 1.0
    # given, it stands (the node tests keep frames for 30 s)
    assert validate(good_params(tmp_path, stale_image_s=30.0,
                                token_staleness_s=0.5)).stale_image_s == 30.0


def test_params_take_any_gpu_by_index(tmp_path):
    # The forms System 1 takes too (gr00t_policy.devices); whether this machine has the GPU
    # is the node's check at configure.
    for device in ("cuda", "cuda:0", "cuda:1"):
        assert validate(good_params(tmp_path, device=device)).device == device


def test_params_relative_topics_are_expanded(tmp_path):
    p = validate(good_params(tmp_path, camera_topics=["cam/image", "/b"]), "gr00t_system2", "/robot")
    assert p.camera_topics == ("/robot/cam/image", "/b")


def health(**over):
    from gr00t_system2.diagnostics import System2Health

    base = dict(target_rate_hz=10.0, achieved_rate_hz=9.9, published=50, latency_median_s=0.02,
                latency_p99_s=0.04, overrun_share=0.0, missing={},
                image_ages_s={"/a": 0.012, "/b": None}, instruction_id=3, instruction="wave",
                backbone_id="abc")
    base.update(over)
    return System2Health(**base)


def test_diagnostics_levels_and_values():
    from gr00t_system2.diagnostics import ERROR, OK, WARN, summarize

    level, message, values = summarize(health())
    kv = dict(values)
    assert level == OK and "9.9 Hz" in message
    assert kv["inference_latency_median_ms"] == "20.0" and kv["inference_latency_p99_ms"] == "40.0"
    assert kv["image_age_ms /a"] == "12.0" and kv["image_age_ms /b"] == "n/a"
    assert kv["instruction_id"] == "3" and kv["inference_keeps_up"] == "True"

    level, message, values = summarize(health(missing={"/b": "never received"}))
    assert level == ERROR and "/b" in message and dict(values)["missing_cameras"] == "/b"

    level, message, values = summarize(health(overrun_share=0.5, achieved_rate_hz=6.0))
    assert level == WARN and "slower than the 100 ms period" in message
    assert dict(values)["inference_keeps_up"] == "False"

    level, message, values = summarize(health(rejected={("/a", "step"): 4}))
    assert level == OK and "rejected frames: 4" in message
    assert dict(values)["rejected_frames /a step"] == "4"
    assert summarize(health(errors={"tokens": 1}))[0] == WARN
    level, message, values = summarize(health(instruction_id=None, instruction="",
                                              published=0))
    assert level == OK and "no instruction set yet" in message
    assert dict(values)["instruction_id"] == "none"

    # A camera stamping in time since boot: named, with its count (tokens still go out).
    level, message, values = summarize(health(stamps_off={"/b": 7}, stamp_off_now={"/b"}))
    assert level == WARN and "/b" in message and "clock" in message
    assert dict(values)["frames_stamp_off_clock /b"] == "7"
    # Each camera's stamp lag on receipt is reported, whatever the level.
    level, _, values = summarize(health(stamp_lags={"/a": 0.7123, "/b": None}))
    assert dict(values)["stamp_lag_ms /a"] == "712.3"
    assert dict(values)["stamp_lag_ms /b"] == "unstamped"
    # Once its frames are stamped right again, the count stays but the WARN goes.
    level, _, values = summarize(health(stamps_off={"/b": 7}))
    assert level == OK and dict(values)["frames_stamp_off_clock /b"] == "7"
    # Resolutions and their changes are reported; a change alone does not raise the level.
    level, _, values = summarize(health(sizes={"/a": (640, 480)}, size_changes={"/a": 2}))
    assert level == OK
    assert dict(values)["frame_size /a"] == "640x480" and dict(values)["frame_size_changes /a"] == "2"

    level, message, values = summarize(health(
        missing={"/b": "never received"}, subscriptions={"/a": "sensor_msgs/msg/Image, reliable",
                                                         "/b": "no publisher yet"},
        received={"/a": 30, "/b": 0}, unused={"/a": 20, "/b": 0}, lost={"/a": 2, "/b": 0}))
    kv = dict(values)
    assert level == ERROR and "/b (no publisher yet)" in message
    assert kv["camera_subscription /a"] == "sensor_msgs/msg/Image, reliable"
    assert kv["frames_received /a"] == "30" and kv["frames_lost /a"] == "2"
    assert kv["frames_unused /a"] == "20"
