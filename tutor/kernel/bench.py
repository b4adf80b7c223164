"""Kernel-pool figures against raw jupyter_client measured in the same run (no Textual here)."""
from __future__ import annotations

import asyncio
import statistics
import time


async def _raw_roundtrips(n: int, warm: int = 5, pool_kernel=None, pool_times: list | None = None) -> list[float]:
    """Baseline: a plain AsyncKernelManager/AsyncKernelClient on this thread's loop (same kernelspec)."""
    import subprocess
    import tempfile
    from pathlib import Path

    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    from tutor.kernel.spec import KERNEL_NAME, write_kernelspec

    d = Path(tempfile.mkdtemp(prefix="fm-raw-"))
    t_start = time.perf_counter()
    km = AsyncKernelManager(kernel_name=KERNEL_NAME,
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(write_kernelspec(d))]))
    await km.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    kc = km.client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=60)
    times = [time.perf_counter() - t_start]  # times[0]: start to ready

    async def reply(msg_id):
        while (await kc.get_shell_msg())["parent_header"].get("msg_id") != msg_id:
            pass

    async def idle(msg_id):
        while True:
            m = await kc.get_iopub_msg()
            if (m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "status"
                    and m["content"]["execution_state"] == "idle"):
                return

    try:
        for i in range(warm + n):
            t = time.perf_counter()
            msg_id = kc.execute("1+1", allow_stdin=False)
            await asyncio.gather(reply(msg_id), idle(msg_id))
            if i >= warm:
                times.append(time.perf_counter() - t)
            if pool_kernel is not None:  # interleaved, so both see the same machine load
                t = time.perf_counter()
                await asyncio.wrap_future(pool_kernel.execute("1+1"))
                if i >= warm:
                    pool_times.append(time.perf_counter() - t)
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
    return times


def bench_pool(runs: int = 5) -> dict:
    import psutil

    from tutor.kernel.outputs import OutputBuffer
    from tutor.kernel.pool import KernelPool

    n = max(20, runs * 10)
    figs: dict = {}
    raw = asyncio.run(_raw_roundtrips(n))
    raw_start = raw.pop(0)
    pool = KernelPool()
    try:
        # first output after start + 1 s of reading
        t0 = time.perf_counter()
        k = pool.start("bench")
        time.sleep(1.0)
        t1 = time.perf_counter()
        got = []
        buf = OutputBuffer()

        def on_event(ev):
            if not got:
                got.append(time.perf_counter())
            buf.add(ev)

        k.execute("print('hello')", on_event=on_event).result(60)
        figs["first_output_ms"] = (got[0] - t1) * 1000
        # the same with a warm spare kernel (what the TUI does: the pool is made at launch)
        spool = KernelPool(spare=True)
        try:
            spool._spare.ready.result(60)
            sk = spool.start("bench-spare")
            time.sleep(1.0)
            ts1 = time.perf_counter()
            sgot = []
            sk.execute("print('hello')", on_event=lambda ev: sgot or sgot.append(time.perf_counter())).result(60)
            figs["first_output_spare_ms"] = (sgot[0] - ts1) * 1000
        finally:
            spool.shutdown_all()
        print(f"with a warm spare kernel: first output {figs['first_output_spare_ms']:.1f} ms after the 1 s")
        figs["cold_start_s"] = got[0] - t0
        figs["raw_start_s"] = raw_start
        print(f"cold: start + 1 s read -> first output {figs['first_output_ms']:.1f} ms after the 1 s "
              f"(start to output {got[0] - t0:.2f} s; raw jupyter_client start to ready {raw_start:.2f} s)")
        # warm round trips, interleaved with raw jupyter_client ones on this thread's loop
        pt: list[float] = []
        raw = asyncio.run(_raw_roundtrips(n, pool_kernel=k, pool_times=pt))
        raw.pop(0)
        mp, mr = statistics.median(pt), statistics.median(raw)
        figs["roundtrip_pool_ms"], figs["roundtrip_raw_ms"] = mp * 1000, mr * 1000
        figs["roundtrip_ratio"] = mp / mr
        print(f"warm 1+1 round trip: pool {mp * 1000:.2f} ms, raw jupyter_client {mr * 1000:.2f} ms, "
              f"ratio {mp / mr:.2f}x (median of {n})")
        # interrupt latency
        lat = []
        for _ in range(max(3, runs)):
            f = k.execute("while True: pass")
            time.sleep(0.3)
            t = time.perf_counter()
            k.interrupt()
            r = f.result(10)
            lat.append(time.perf_counter() - t)
            assert r.status == "interrupted", r
        figs["interrupt_s"] = max(lat)
        print(f"interrupt latency: median {statistics.median(lat) * 1000:.1f} ms, max {max(lat) * 1000:.1f} ms")
        rss = psutil.Process().memory_info().rss / 2**20
        kr = psutil.Process(k.pid).memory_info().rss / 2**20 if k.pid else 0
        figs["rss_mb"] = rss
        print(f"RSS of this process with a running kernel: {rss:.1f} MB (the kernel itself: {kr:.1f} MB)")
    finally:
        pool.shutdown_all()
    return figs
