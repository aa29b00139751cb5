"""Classifies perf samples of BenchmarkEndToEnd's timed runs (see
stageprofile.sh): args are perf script's output (pid,tid,time,ip,sym with
call stacks), the benchmark's output with its WINDOW lines, and the parts
whose leading stacks to list."""
import collections
import re
import sys


def windows(path):
    out, start = [], None
    for line in open(path):
        m = re.search(r"WINDOW (start|end) ([0-9.]+)", line)
        if m and m.group(1) == "start":
            start = float(m.group(2))
        elif m:
            out.append((start, float(m.group(2))))
    return out


def samples(path):
    cur = []
    for line in open(path):
        if line.strip():
            cur.append(line.rstrip())
        elif cur:
            yield cur
            cur = []
    if cur:
        yield cur


def sym(frame):
    parts = frame.split(None, 1)
    return parts[1] if len(parts) > 1 else frame


# A sample counts under the first part whose pattern its stack matches.
PARTS = [
    ("wordpiece", r"wordpiece\."),
    ("encode.ids-lz4", r"AppendEncode(?s:.*)int32Compressor|int32Compressor(?s:.*)AppendEncode"),
    ("encode.other", r"AppendEncode"),
    ("produce", r"ProduceConn|KafkaOutput"),
    ("decode", r"decodeDocument"),
    ("fetch", r"FetchConn|KafkaInput|partitionFetch|broker\."),
    ("pack", r"pack\.\(\*Packer\)"),
    ("shuffle", r"Stage\)\.seal"),
    ("tokenize-glue", r"Stage\)\.tokenize"),
    ("gc/alloc", r"gcBgMarkWorker|gcDrain|markroot|bgsweep|bgscavenge|mallocgc"),
    ("kafka-go", r"segmentio"),
    ("sched/signals", r"runtime\.(schedule|findRunnable|park_m|netpoll|stopm|notesleep|futex|sysmon|usleep|exitsyscall|wakep|startm|ready|retake|preempt|sigtramp|sighandler|asyncPreempt)|do_nanosleep|futex|epoll|tgkill|rt_sigreturn"),
    ("stage-other", r"transform\.\(\*Stage\)"),
]


def main():
    wins = windows(sys.argv[2])
    if not wins:
        sys.exit("stageprofile: no WINDOW lines in the benchmark's output")
    all_samples = list(samples(sys.argv[1]))
    # The benchmark's process is the one that ran the tokenizer alone (the
    # broker runs in a process of its own).
    pids = collections.Counter(s[0].split()[0].split("/")[0] for s in all_samples if any("tokenizeAlone" in f for f in s[1:]))
    if not pids:
        sys.exit("stageprofile: no samples of the tokenizer-alone runs")
    main_pid = pids.most_common(1)[0][0]
    parts, listed = collections.Counter(), collections.Counter()
    alone = stage = 0
    want = set(sys.argv[3:])
    for s in all_samples:
        head = s[0].split()
        if head[0].split("/")[0] != main_pid:
            continue
        stack = "\n".join(s[1:])
        if "tokenizeAlone" in stack:
            alone += 1
            continue
        t = float(head[1].rstrip(":"))
        if not any(a <= t <= b for a, b in wins):
            continue
        stage += 1
        part = next((name for name, pat in PARTS if re.search(pat, stack)), "other")
        if part == "encode.other" and re.search(r"memmove|prefetch", sym(s[1])) and "Compressor" not in stack:
            part = "encode.gather"  # laying out the batch's columns
        parts[part] += 1
        if part in want:
            listed[part + ": " + " <- ".join(sym(f)[:45] for f in s[1:5])] += 1
    n = len(wins)
    print(f"{stage} samples in {n} timed runs; stage/alone {stage / n / (alone / (2 * n)):.3f}"
          f" (samples per timed run over samples per tokenizer-alone run)")
    for part, k in parts.most_common():
        print(f"{100 * k / stage:6.2f}% {part}")
    for key, k in listed.most_common(30):
        print(k, key)


main()
