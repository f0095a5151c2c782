"""gr00t-eval --instructions: the instruction file (reading, every error), the seed ->
(task, phrasing) rule, and the committed held-out set (fast: no ROS graph, no MuJoCo world)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from gr00t_sim.evaluation.phrasings import PhrasingFileError, load_phrasings, read_phrasings
from gr00t_sim.evaluation.schedule import (coverage_period, phrasing_for_seed, task_for_seed,
                                           task_list)
from gr00t_sim.tasks import Task, all_instructions

REPO = Path(__file__).resolve().parents[3]
HELDOUT = REPO / "config" / "instructions" / "heldout_phrasings.yaml"
UNSEEN = REPO / "config" / "instructions" / "heldout_unseen_words.yaml"
HELDOUT_SETS = pytest.mark.parametrize("heldout", [HELDOUT, UNSEEN], ids=["heldout", "unseen"])
# The unseen-words set names each colour only by one of these (its header says so).
UNSEEN_COLOURS = {"red": ("crimson", "scarlet", "ruby", "cherry"),
                  "green": ("emerald", "lime", "jade", "mint"),
                  "blue": ("azure", "navy", "cobalt", "sapphire")}
TRAINING = REPO / "config" / "instructions" / "training_phrasings.yaml"
RED_LEFT = "touch the red cube with your left hand"
RAISE_LEFT = "raise your left hand"


def write(tmp_path: Path, text: str, name: str = "phrasings.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(path: Path, tasks: list[str] | None = None) -> str:
    with pytest.raises(PhrasingFileError) as info:
        if tasks is None:
            read_phrasings(path)
        else:
            load_phrasings(path, tasks)
    text = str(info.value)
    assert text.startswith(f"--instructions {path}: "), text
    return text


# -- reading the file ------------------------------------------------------------------------

def test_a_valid_file_in_yaml_and_json(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
# a comment
{RED_LEFT}:
  - "  tap the red cube with your left hand "
  - with your left hand, touch the red block
Raise your left hand.: lift your left hand   # case and final punctuation do not matter
raise your right hand: [raise your right hand]
""")
    found = read_phrasings(path)
    assert found == {RED_LEFT: ("tap the red cube with your left hand",
                                "with your left hand, touch the red block"),
                     RAISE_LEFT: ("lift your left hand",),
                     "raise your right hand": ("raise your right hand",)}
    # load_phrasings keeps the evaluated tasks, in their order; the file may hold more.
    assert list(load_phrasings(path, [RAISE_LEFT, RED_LEFT])) == [RAISE_LEFT, RED_LEFT]
    as_json = write(tmp_path, '{"raise your left hand": ["lift your left hand", "put it up"]}',
                    "phrasings.json")
    assert read_phrasings(as_json) == {RAISE_LEFT: ("lift your left hand", "put it up")}


def test_every_evaluated_task_must_be_in_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, f"{RAISE_LEFT}: [lift your left hand]\n")
    text = problems(path, task_list("raise"))
    assert "'raise your right hand': is evaluated but the file has no phrasing" in text
    assert "--tasks touch|raise" in text and text.count("is evaluated") == 1
    assert load_phrasings(path, [RAISE_LEFT]) == {RAISE_LEFT: ("lift your left hand",)}


def test_unknown_keys_name_the_key_the_closest_task_and_all_tasks(tmp_path: Path) -> None:
    path = write(tmp_path, f"""
{RAISE_LEFT}: [lift your left hand]
touch the red cube with your left arm: [tap it]
wave: [wave at me]
""")
    text = problems(path)
    assert "2 problems" in text
    assert ("'touch the red cube with your left arm' (line 3): is not one of the tasks. Fix: "
            f"did you mean '{RED_LEFT}'?") in text
    assert "'wave' (line 4): is not one of the tasks" in text
    assert all(task in text for task in all_instructions())


@pytest.mark.parametrize("body, expected", [
    (f"{RED_LEFT}: []\n", f"'{RED_LEFT}' (line 1): has an empty list of phrasings"),
    (f"{RED_LEFT}:\n", f"'{RED_LEFT}' (line 1): has nothing; it needs one or more phrasings"),
    (f"{RED_LEFT}: {{tap: it}}\n", "has a mapping; it needs one or more phrasings"),
    (f"{RED_LEFT}:\n  - tap the red cube\n  - 42\n",
     f"'{RED_LEFT}' (line 3): phrasing 1 is a number (42), not text"),
    (f"{RED_LEFT}:\n  - tap the red cube\n  -\n",
     f"'{RED_LEFT}' (line 3): phrasing 1 is nothing, not text"),
    (f"{RED_LEFT}:\n  - '   '\n", f"'{RED_LEFT}' (line 2): phrasing 0 is empty"),
    (f"{RED_LEFT}:\n  - tap the red cube\n  - Tap  the red cube\n",
     "phrasing 1 'Tap  the red cube' is listed twice"),
    (f"{RED_LEFT}: [tap the red cube]\ntouch the red cube with your right hand: "
     "[tap the red cube]\n",
     f"phrasing 0 'tap the red cube' is also a phrasing of '{RED_LEFT}'; System 2 could "
     "not tell the two tasks apart"),
    (f"{RED_LEFT}: [a]\n{RED_LEFT}: [b]\n",
     f"'{RED_LEFT}' (line 2): the task is listed twice"),
    (f"{RED_LEFT}: [a]\nTouch the red cube with your left hand!: [b]\n",
     "names the same task as another key"),
    (f"{RED_LEFT}: [tap it\n", "malformed YAML at column"),
    ("- tap the red cube\n", "the file holds a list, not a mapping from tasks to phrasings"),
    ("", "the file holds nothing, not a mapping"),
    ("42: [tap it]\n", "'42' (line 1): a key must be a task's instruction, not a number"),
])
def test_each_problem_names_the_file_the_key_and_the_fix(tmp_path: Path, body: str,
                                                         expected: str) -> None:
    text = problems(write(tmp_path, body))
    assert expected in text, text
    assert "Fix: " in text


def test_malformed_yaml_and_json_give_the_line(tmp_path: Path) -> None:
    text = problems(write(tmp_path, f"{RAISE_LEFT}: [lift it]\n{RED_LEFT}: [tap it\n"))
    assert re.search(r"line [23]: malformed YAML at column \d+", text), text
    text = problems(write(tmp_path, '{"raise your left hand":\n ["lift it",]}', "p.json"))
    assert "line 2: malformed JSON at column" in text, text
    text = problems(write(tmp_path, '{"raise your left hand": ["a"],\n'
                                    ' "raise your left hand": ["b"]}', "p.json"))
    assert "the task is listed twice (JSON would silently keep only the last list)" in text
    text = problems(tmp_path / "missing.yaml")
    assert "cannot read the file" in text and "check the path" in text


def test_all_problems_at_once(tmp_path: Path) -> None:
    text = problems(write(tmp_path, f"{RED_LEFT}: []\nwave: [x]\n{RAISE_LEFT}: [7]\n"))
    assert text.count("Fix: ") == 3 and "3 problems" in text


def test_a_phrasing_may_be_its_own_tasks_instruction_but_not_anothers(tmp_path: Path) -> None:
    assert read_phrasings(write(tmp_path, f"{RAISE_LEFT}: [{RAISE_LEFT.upper()}]\n")) == {
        RAISE_LEFT: (RAISE_LEFT.upper(),)}
    text = problems(write(tmp_path, f"{RAISE_LEFT}: [Raise your right hand.]\n"))
    assert "is the instruction of task 'raise your right hand'" in text


# -- the seed -> (task, phrasing) rule -------------------------------------------------------

def test_the_phrasing_depends_on_the_seed_alone_and_covers_every_phrasing_evenly() -> None:
    tasks = task_list("all")
    phrasings = {t: [f"{t} #{i}" for i in range(4 if "left" in t else 3)] for t in tasks}
    period = coverage_period(tasks, phrasings)
    assert period == 8 * 12  # 8 tasks, lcm(3, 4)
    for start in (100_000, 100_005):  # from any seed
        picked = [(task_for_seed(s, tasks), phrasing_for_seed(s, tasks, phrasings))
                  for s in range(start, start + period)]
        counts = Counter(picked)
        assert all(said in phrasings[task] for task, said in picked)
        assert len(counts) == sum(len(p) for p in phrasings.values())  # every pair occurs
        for task, said in counts:
            assert counts[(task, said)] == 12 // len(phrasings[task])
    # The seed alone: the same seed gives the same pair, whatever came before.
    assert phrasing_for_seed(100_013, tasks, phrasings) == phrasing_for_seed(
        100_013 + period, tasks, phrasings)
    # Four phrasings for every task (the held-out set): 32 episodes cover each one once.
    four = {t: [f"{t} #{i}" for i in range(4)] for t in tasks}
    assert coverage_period(tasks, four) == 32
    assert len({phrasing_for_seed(s, tasks, four) for s in range(100_000, 100_032)}) == 32
    # One phrasing each: the task's own instruction, as without an instruction file.
    own = {t: [t] for t in tasks}
    assert coverage_period(tasks, own) == 8
    assert all(phrasing_for_seed(s, tasks, own) == task_for_seed(s, tasks)
               for s in range(100_000, 100_016))
    with pytest.raises(ValueError, match="no phrasing for task"):
        phrasing_for_seed(100_000, tasks, {})


# -- the committed held-out set --------------------------------------------------------------

def training_instructions() -> set[str]:
    """Every instruction the training data generators can produce: gr00t-collect records the
    canonical instructions (collect.task_for_seed draws one of `all_instructions` per seed)
    and gr00t-train reads them and, with --instructions, the committed training phrasings."""
    from gr00t_sim import collect

    drawn = {collect.task_for_seed(seed) for seed in range(400)}
    assert drawn == set(all_instructions())  # the generator draws from these, all of them
    return drawn | {p for ps in read_phrasings(TRAINING).values() for p in ps}


def norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text).split()).casefold()


@HELDOUT_SETS
def test_heldout_set_covers_every_task_with_phrasings_training_never_saw(heldout: Path) -> None:
    found = read_phrasings(heldout)
    assert list(found) == all_instructions()
    assert all(len(p) >= 3 for p in found.values()), {t: len(p) for t, p in found.items()}
    trained = {norm(t) for t in training_instructions()}
    for task, phrasings in found.items():
        for said in phrasings:
            # Not a training instruction, not even in other case or punctuation ...
            assert norm(said) not in trained, said
            with pytest.raises(ValueError):
                Task.parse(said)
            # ... and still about its own task: the side and the colour are the task's.
            t, words = Task.parse(task), set(norm(said).split())
            assert t.side in words and not ({"left", "right"} - {t.side}) & words, said
            if t.kind == "touch":
                assert not ({"red", "green", "blue"} - {t.color}) & words, said


def test_training_phrasings_avoid_the_words_only_the_heldout_set_uses() -> None:
    """The held-out set measures what a pretrained language model brings only if training
    never saw its new words (the training file's header lists them)."""
    found = read_phrasings(TRAINING)
    assert list(found) == all_instructions()
    assert all(len(p) >= 10 for p in found.values())
    trained = {w for ps in found.values() for p in ps for w in norm(p).split()}
    canonical = {w for t in all_instructions() for w in norm(t).split()}
    heldout_only = {w for ps in read_phrasings(HELDOUT).values() for p in ps
                    for w in norm(p).split()} - canonical - trained
    header = re.search(r"new\n?# ?words is used here \(([^)]*)\)", TRAINING.read_text())
    assert header is not None
    listed = {w.strip(" #\n") for w in header.group(1).split(",")}
    assert listed <= heldout_only, listed - heldout_only
    assert not listed & trained


@HELDOUT_SETS
def test_heldout_phrasings_fit_the_nano_prompt_with_the_documented_unknown_words(
        heldout: Path) -> None:
    """Every phrasing fits the committed checkpoint's prompt, and the words its tokenizer
    reads as [UNK] are exactly those the file's header names."""
    from gr00t_policy.backbone_config import nano_backbone
    from gr00t_policy.prompt import PromptBuilder, load_tokenizer

    builder = PromptBuilder(load_tokenizer(REPO / "checkpoints" / "nano"), nano_backbone())
    unknown: set[str] = set()
    for phrasings in read_phrasings(heldout).values():
        for said in phrasings:
            builder.encode(said)  # raises when a prompt is over max_tokens
            unknown |= {w.lower() for w in builder.unknown_words(said)}
    header = re.search(r"\(here: ([^)]*)\)", heldout.read_text())
    assert header is not None
    assert unknown == {w.strip(" #\n") for w in header.group(1).split(",")}


def test_the_unseen_words_set_names_colours_only_by_words_training_never_used() -> None:
    found = read_phrasings(UNSEEN)
    trained = {w for ps in read_phrasings(TRAINING).values() for p in ps for w in norm(p).split()}
    trained |= {w for t in training_instructions() for w in norm(t).split()}
    raise_words = {"hoist", "stick", "wave", "skyward"}
    new_words = set().union(*UNSEEN_COLOURS.values()) | raise_words | {"tap", "poke", "pat"}
    assert not new_words & trained, new_words & trained
    for task, phrasings in found.items():
        t = Task.parse(task)
        for said in phrasings:
            words = set(norm(said).split())
            assert not words & {"red", "green", "blue"}, said
            if t.kind == "raise":
                assert words & raise_words, said
            if t.kind == "touch":
                assert len(words & set(UNSEEN_COLOURS[t.color])) == 1, said
                others = set().union(*(v for c, v in UNSEEN_COLOURS.items() if c != t.color))
                assert not words & others, said
    header = " ".join(line.strip("# ") for line in UNSEEN.read_text().splitlines())
    for colour, names in UNSEEN_COLOURS.items():
        assert f"{', '.join(names)} ({colour})" in header, colour
