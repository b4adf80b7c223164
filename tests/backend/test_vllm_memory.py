"""The real vLLM engine's memory under the project's supervisor (engine = vllm, fm-tiny, the default max_batch 32):
after 32 parallel 128-token requests the whole process tree stays within VLLM_TREE_BOUND resident.

Why not the 1 GB that transformers serve holds: vLLM's OpenAI server always runs its engine core in a process of
its own, and each of the two imports torch, transformers and vLLM: `import vllm.entrypoints.openai.api_server` alone
is ~700 MB RSS in a fresh interpreter, the engine core's imports ~720 MB. The supervisor starts the fewest processes
vLLM's CPU build allows (the model in the engine core, no worker process: see tutor.backend.engines.build_command):
measured 1.63 GB (API server 742 MB, engine core 879 MB, resource tracker 13 MB) where vLLM's defaults made 2.40 GB.
RSS counts the pages the processes share (torch's libraries, ~260 MB each) once per process; the bound is on RSS,
the issue's figure, and the test also prints PSS.

Run in .ci/run's `vllm` lane; skipped where vllm is not importable (see tests/backend/vllm_lane.py)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tutor.core.procs import fmt_bytes, tree_rss

from ..helpers import wait_until as wait_for
from .vllm_lane import MODEL, START_TIMEOUT, group_gone, require_vllm, vllm_config, vllm_server

require_vllm()
pytestmark = [pytest.mark.vllm, pytest.mark.slow, pytest.mark.timeout(900)]
VLLM_TREE_BOUND = 1800 << 20  # 1.63 GB measured + 10%; vLLM's defaults: 2.40 GB


def _tree(pid: int) -> dict[int, tuple[str, int, int]]:
    """pid -> (name, RSS, PSS) in bytes for pid and every process below it."""
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                st = (d / "stat").read_text()
                kids.setdefault(int(st[st.rindex(")") + 2:].split()[1]), []).append(int(d.name))
            except (OSError, ValueError, IndexError):
                continue
    out, todo = {}, [pid]
    while todo:
        p = todo.pop()
        todo += kids.get(p, [])
        try:
            rollup = (Path(f"/proc/{p}") / "smaps_rollup").read_text().splitlines()[1:]
            kb = {ln.split()[0].rstrip(":"): int(ln.split()[1]) for ln in rollup}
            out[p] = ((Path(f"/proc/{p}") / "comm").read_text().strip(), kb["Rss"] << 10, kb["Pss"] << 10)
        except (OSError, ValueError, KeyError, IndexError):
            continue  # gone meanwhile
    return out


def test_the_process_tree_stays_bounded_after_32_parallel_requests(tmp_path):
    from openai import OpenAI

    if MODEL != "fm-tiny":
        pytest.skip("the bound is for fm-tiny on vLLM's CPU build (tests/gpu/check.sh serves a ~1B model)")
    cfg = vllm_config(tmp_path, FM_TUTOR_MAX_BATCH="32")
    srv = vllm_server(cfg, tmp_path / "run")
    pid = None
    try:
        if srv.cuda_probe():
            pytest.skip("the bound is for vLLM's CPU build")
        ep = srv.start(timeout=START_TIMEOUT)
        pid = srv.pid
        client = OpenAI(base_url=ep.base_url, api_key=ep.api_key, timeout=600, max_retries=0)

        def one(i: int) -> int:
            r = client.completions.create(model=ep.model, prompt=f"Lesson {i} covers", max_tokens=128,
                                          temperature=0.0, extra_body={"min_tokens": 128})
            return r.usage.completion_tokens

        with ThreadPoolExecutor(32) as pool:
            assert list(pool.map(one, range(32))) == [128] * 32
        procs = _tree(pid)
        rss = tree_rss(pid)
        report = "; ".join(f"{name} {fmt_bytes(r)} RSS / {fmt_bytes(p)} PSS" for name, r, p in procs.values())
        print(f"vLLM tree after 32 x 128 tokens: {fmt_bytes(rss)} RSS, "
              f"{fmt_bytes(sum(p for _, _, p in procs.values()))} PSS ({report})")
        assert len(procs) <= 3, f"a worker process of its own again? {report}"  # API server, engine core, tracker
        assert rss is not None and rss <= VLLM_TREE_BOUND, f"vLLM tree {fmt_bytes(rss)} RSS > bound: {report}"
        assert abs((srv.rss() or 0) - rss) < 64 << 20  # the figure the status line and `bench model` show
    finally:
        srv.stop()
    assert pid is None or wait_for(lambda: group_gone(pid), 30)
