"""The log file and the stack dump a frozen screen can be looked into with (tutor.core.logs)."""
import os
import signal
import subprocess
import sys
import time

_APP = r'''
import sys, threading, time
from tutor.core.logs import setup_logging
setup_logging("info")
def waiting_for_a_lock():
    threading.Event().wait()
threading.Thread(target=waiting_for_a_lock, name="stuck", daemon=True).start()
print("ready", flush=True)
time.sleep(30)
'''


def test_usr1_writes_every_threads_stack_beside_the_log_and_the_app_carries_on(tmp_path):
    from tutor.core.logs import stacks_path

    log = tmp_path / "state" / "fm-tutor.log"
    p = subprocess.Popen([sys.executable, "-c", _APP], stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "FM_TUTOR_LOG_FILE": str(log)})
    try:
        assert p.stdout.readline().strip() == "ready"
        p.send_signal(signal.SIGUSR1)
        path = stacks_path(log)
        for _ in range(50):
            if path.exists() and "waiting_for_a_lock" in path.read_text():
                break
            time.sleep(0.1)
        text = path.read_text()
        assert "waiting_for_a_lock" in text and "Current thread" in text, text
        assert p.poll() is None  # the dump did not stop the process
    finally:
        p.kill()
        p.wait()
