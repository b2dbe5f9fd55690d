#!/usr/bin/python3
"""A deliberately slow consumer of a subscriber's standard output.

    slow_reader.py OUT RATE [STALL_AFTER STALL_SECONDS]

Copies standard input to OUT line by line, at most RATE lines a second,
each line written at once (unbuffered), so that OUT can be polled. With STALL_AFTER, it stops
reading for STALL_SECONDS once it has copied that many lines. While it does
not read, the pipe fills, the subscriber blocks on its output, its ZeroMQ
receive queue fills and the hub's send queue for it overflows: the hub
drops that subscriber's live messages, which it must then replay. Ends at
end of input.
"""
import sys
import time


def main():
    out_path, rate = sys.argv[1], float(sys.argv[2])
    stall_after = int(sys.argv[3]) if len(sys.argv) > 3 else -1
    stall_s = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    chunk = max(1, int(rate / 50))  # sleep every 20 ms worth of lines
    n = 0
    t0 = time.monotonic()
    with open(out_path, "ab", buffering=0) as out:
        for line in sys.stdin.buffer:
            out.write(line)
            n += 1
            if n == stall_after:
                time.sleep(stall_s)
                t0 = time.monotonic() - n / rate
            if n % chunk == 0:
                ahead = n / rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)


if __name__ == "__main__":
    main()
