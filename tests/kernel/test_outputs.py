"""OutputBuffer: carriage returns, ANSI, caps, images (pure, no kernel)."""
import base64

import pytest

from tutor.kernel import ClearOutput, Display, Error, OutputBuffer, Result, Stream

pytestmark = pytest.mark.timeout(30)


def test_carriage_return_rewrites_line_like_tqdm():
    b = OutputBuffer()
    for pct in (0, 10, 50, 100):
        b.add(Stream("stderr", f"\r{pct:3d}%|{'#' * (pct // 10):<10}|"))
    b.add(Stream("stderr", "\n"))
    text = b.full_text()
    assert text == "100%|##########|"
    assert b.display_text().count("%|") == 1


def test_overwrite_keeps_rest_and_crlf_is_newline_and_backspace():
    b = OutputBuffer()
    b.stream("stdout", "abcdef\rXY\r\nnext\x08T\n")
    assert b.full_text() == "XYcdef\nnexT"


def test_cr_split_across_chunks():
    b = OutputBuffer()
    b.stream("stdout", "first\r")
    b.stream("stdout", "\nsecond")
    assert b.full_text() == "first\nsecond"


def test_ansi_kept():
    b = OutputBuffer()
    b.stream("stdout", "\x1b[31mred\x1b[0m\n")
    assert "\x1b[31mred" in b.display_text()


def test_million_lines_capped_with_marker_and_full_text_kept():
    b = OutputBuffer(max_lines=500)
    chunk = "".join(f"line {i}\n" for i in range(1000))
    for _ in range(1000):
        b.stream("stdout", chunk)
    seg = b.segments[0]
    assert len(seg.head) + len(seg.tail) <= 500
    assert b.hidden_lines == 1_000_000 - len(seg.head) - len(seg.tail)
    shown = b.display_text(marker="[{n} hidden]")
    assert f"[{b.hidden_lines} hidden]" in shown
    assert shown.startswith("line 0\n")
    assert shown.endswith("line 999")
    assert b.full_text().count("\n") == 999_999


def test_byte_cap_limits_display():
    b = OutputBuffer(max_lines=500, max_bytes=10_000)
    for i in range(300):
        b.stream("stdout", f"{i:04d}" + "x" * 196 + "\n")
    assert len(b.display_text()) < 12_000
    assert b.hidden_lines > 0
    assert b.full_text().count("\n") == 299


def test_hard_cap_truncates_full_text():
    b = OutputBuffer(hard_cap=1000)
    b.stream("stdout", "y" * 999 + "\n" + "z" * 5000 + "\n")
    assert "more characters not kept" in b.full_text()


def test_results_errors_images_markdown_and_clear():
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
    b = OutputBuffer()
    b.add(Result({"text/plain": "42"}, 3))
    b.add(Display({"image/png": png, "text/plain": "<Figure>"}))
    b.add(Display({"text/markdown": "**bold**", "text/plain": "bold"}))
    b.add(Error("ValueError", "bad", ["\x1b[31mValueError\x1b[0m: bad"]))
    assert [s.kind for s in b.segments] == ["result", "image", "markdown", "error"]
    assert b.images == [b"\x89PNG\r\n\x1a\nfake"]
    assert "42" in b.full_text() and "ValueError" in b.full_text()
    b.add(ClearOutput(wait=True))
    assert b.segments  # wait=True: cleared only when the next output arrives
    b.stream("stdout", "fresh\n")
    assert b.full_text() == "fresh"
    b.add(ClearOutput())
    assert b.segments == []


def test_streams_do_not_merge_across_names():
    b = OutputBuffer()
    b.stream("stdout", "out\n")
    b.stream("stderr", "err\n")
    b.stream("stderr", "err2\n")
    assert [(s.kind, s.name) for s in b.segments] == [("stream", "stdout"), ("stream", "stderr")]
