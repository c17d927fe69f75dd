"""Runs shapiq approximators inside the throwaway Python 3.12 environment of shapiq_compare.py.

It imports nothing from this project: the game lives in the parent process, which evaluates every
batch of coalitions the approximator asks for. Protocol on stdin/stdout, one job per line:

    parent → worker: a JSON line {"approximator", "n_players", "budget", "seed"}
    worker → parent: "EVAL <rows>\\n" + rows × n bytes (the 0/1 coalitions, row-major);
    parent → worker: rows × 8 bytes (the utilities, float64)   [as often as the approximator asks]
    worker → parent: "DONE <json>\\n" with {"values": [...], "seconds": s} (or {"error": ...})
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from typing import Any

import numpy as np


def make_approximator(name: str, n_players: int, seed: int) -> Any:
    import shapiq

    if name == "KernelSHAP":
        return shapiq.KernelSHAP(n_players, pairing_trick=True, random_state=seed)
    if name == "LeverageSHAP":
        return shapiq.LeverageSHAP(n_players, random_state=seed)
    if name == "RegressionMSR":
        return shapiq.RegressionMSR(n_players, "SV", random_state=seed)
    if name == "ProxySHAP":
        return shapiq.ProxySHAP(
            n_players, max_order=1, index="SV", adjustment=True, random_state=seed
        )
    if name == "PermutationSamplingSV":
        return shapiq.PermutationSamplingSV(n_players, random_state=seed)
    raise ValueError(f"unknown approximator {name!r}")


def read_exactly(stream: Any, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("the parent closed the pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def remote_game(stdin: Any, stdout: Any) -> Any:
    def evaluate(coalitions: np.ndarray) -> np.ndarray:
        masks = np.asarray(coalitions, dtype=bool)
        if masks.ndim == 1:
            masks = masks[None, :]
        stdout.write(f"EVAL {len(masks)}\n".encode())
        stdout.write(masks.astype(np.uint8).tobytes())
        stdout.flush()
        return np.frombuffer(read_exactly(stdin, 8 * len(masks)), dtype=np.float64).copy()

    return evaluate


def main() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    import shapiq  # noqa: F401  (import time is not charged to the first job)

    while True:
        line = stdin.readline()
        if not line:
            return
        job = json.loads(line)
        try:
            approximator = make_approximator(job["approximator"], job["n_players"], job["seed"])
            start = time.perf_counter()
            result = approximator.approximate(job["budget"], remote_game(stdin, stdout))
            seconds = time.perf_counter() - start
            values = [float(result[(i,)]) for i in range(job["n_players"])]
            reply: dict[str, Any] = {"values": values, "seconds": seconds}
        except Exception as error:  # reported to the parent, which prints it in the table
            reply = {"error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()}
        stdout.write(f"DONE {json.dumps(reply)}\n".encode())
        stdout.flush()


if __name__ == "__main__":
    main()
