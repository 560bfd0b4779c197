"""Peak resident memory of a stretch of code, for the benchmarks (Linux only).

``VmHWM`` in ``/proc/self/status`` is the process's peak resident size;
writing 5 to ``/proc/self/clear_refs`` resets it to the current resident
size, so the peak read after a call is the peak *during* it.
"""

import re


def status_mb(field):
    """A ``/proc/self/status`` field (``"VmRSS"``, ``"VmHWM"``) in MiB."""
    with open("/proc/self/status") as file:
        kb = re.search(rf"^{field}:\s+(\d+) kB", file.read(), re.MULTILINE).group(1)
    return int(kb) / 1024


def reset_peak():
    """Reset the peak to the resident size now; return that size in MiB."""
    with open("/proc/self/clear_refs", "w") as file:
        file.write("5")
    return status_mb("VmRSS")
