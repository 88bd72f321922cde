"""Memory one photo upload costs to check and re-encode (fabbooking.projects.media.prepare).

Each case runs in a fresh process: its peak resident memory (VmHWM) while preparing the
photo, minus the peak before (Python, Pillow and the upload's bytes already loaded). Pillow
decodes outside Python's allocator, so tracemalloc would not see it; RSS does. (Not
ru_maxrss: Linux carries it over from the parent across exec.)

    .venv/bin/python bench/photo_memory.py      # 40 MP JPEG and PNG, one alone, three at once
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile

CASES = [("jpeg", 8000, 5000, 1), ("jpeg", 8000, 5000, 3), ("png", 8000, 5000, 1), ("png", 8000, 5000, 3)]


def photo(kind: str, width: int, height: int) -> bytes:
    """A photo-like picture (soft noise and gradients: it does not compress to nothing, and
    stays under the 10 MB a photo may weigh, as a phone's 40 MP photo does)."""
    from PIL import Image

    grain = 8 if kind == "jpeg" else 200  # PNG keeps every pixel: coarser, to stay under 10 MB
    image = Image.effect_noise((width // grain, height // grain), 64).convert("RGB").resize((width, height))
    gradient = Image.linear_gradient("L").resize((width, height))
    image = Image.merge("RGB", (image.getchannel(0), gradient, image.getchannel(2)))
    out = io.BytesIO()
    image.save(out, "JPEG" if kind == "jpeg" else "PNG", **({"quality": 85} if kind == "jpeg" else {}))
    return out.getvalue()


def peak_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def measure(path: str, at_once: int) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    from fabbooking.projects import media

    with open(path, "rb") as file:
        data = file.read()
    before = peak_kb()
    with ThreadPoolExecutor(at_once) as pool:  # uploads are prepared in worker threads
        results = list(pool.map(media.prepare, [data] * at_once))
    peak = peak_kb()
    return {"photo": path.rsplit("/", 1)[-1], "bytes": len(data), "at_once": at_once,
            "extra_mb": round((peak - before) / 1024), "kept": [results[0].width, results[0].height]}


def main() -> None:
    if len(sys.argv) == 3:  # one measure, in a fresh process
        print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))
        return
    with tempfile.TemporaryDirectory() as folder:
        for kind, width, height, at_once in CASES:
            path = f"{folder}/{width}x{height}.{kind}"
            if not os.path.exists(path):
                with open(path, "wb") as file:
                    file.write(photo(kind, width, height))
            run = subprocess.run([sys.executable, __file__, path, str(at_once)],
                                 capture_output=True, text=True, check=True)
            print(run.stdout.strip())


if __name__ == "__main__":
    main()
