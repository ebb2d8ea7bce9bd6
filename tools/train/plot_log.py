#!/usr/bin/env python3
"""Plots a difflm-train log (CSV: step,lr,train_loss,val_loss,tokens_seen,elapsed).

usage: /usr/bin/python3 tools/train/plot_log.py LOG.csv [LOG2.csv ...] OUT.png
           [--tokens-before N] [--baseline NATS --baseline-label TEXT]

--tokens-before: tokens the model had seen before the first log's run began (a run
started with --init-from counts from 0), so the x axis shows the model's whole training.
Each further log is a run started from the previous one's last weights: it is drawn
after it, and a dotted line marks where it starts.
Needs Debian's python3-matplotlib (only for this plot; nothing else in the project does).
"""
import argparse
import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+", metavar="LOG.csv ... OUT.png")
    ap.add_argument("--tokens-before", type=float, default=0.0)
    ap.add_argument("--baseline", type=float)
    ap.add_argument("--baseline-label", default="baseline")
    a = ap.parse_args()
    if len(a.files) < 2:
        ap.error("needs at least one LOG.csv and the OUT.png")
    tr, va, starts = [], [], []
    before = a.tokens_before
    for log in a.files[:-1]:
        starts.append(before / 1e6)
        last = 0.0
        with open(log) as f:
            for row in csv.DictReader(f):
                last = float(row["tokens_seen"])
                tokens = (last + before) / 1e6
                if row["train_loss"]:
                    tr.append((tokens, float(row["train_loss"])))
                if row["val_loss"]:
                    va.append((tokens, float(row["val_loss"])))
        before += last
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for x in starts[1:]:
        ax.axvline(x, color="gray", ls=":", lw=1)
    ax.plot(*zip(*tr), lw=0.8, alpha=0.6, label="train (masked-token ELBO, nats/token)")
    ax.plot(*zip(*va), "o-", ms=3, label="validation (fixed windows and masks)")
    if a.baseline is not None:
        ax.axhline(a.baseline, color="gray", ls="--", lw=1, label=a.baseline_label)
    ax.set_xlabel("training tokens seen by the model (millions)")
    ax.set_ylabel("nats per token")
    ax.set_ylim(bottom=min(min(v for _, v in va), a.baseline or 99) - 0.3,
                top=min(8.5, max(v for _, v in va) + 0.5))
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("difflm default model: LLaDA objective")
    fig.tight_layout()
    fig.savefig(a.files[-1])


if __name__ == "__main__":
    main()
