"""`fm-tutor search`, `fm-tutor bench search`, and notes through `progress --json` / `progress import`."""
from __future__ import annotations

import json

import pytest

from tutor.cli.entry import main
from tutor.progress import ProgressStore

pytestmark = pytest.mark.timeout(180)


def test_search_command_text_and_json(tmp_path, capsys):
    assert main(["search", "chinchilla", "-n", "3"]) == 0
    out = capsys.readouterr().out
    assert "02 Scaling Laws > " in out and "fm-tutor lesson 02 --step " in out and "[Chinchilla]" in out
    assert main(["search", "--json", "chinchilla", "tokens"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["query"] == "chinchilla tokens" and data["hits"][0]["lesson"] == "02"
    assert {"lesson", "step", "step_title", "snippet", "score", "kind"} <= set(data["hits"][0])


def test_search_command_refuses_bad_input(capsys):
    assert main(["search", "?!"]) == 2
    assert "nothing to search for" in capsys.readouterr().err
    assert main(["search", "zyzzyvaquark"]) == 1
    assert "no match" in capsys.readouterr().out
    assert main(["search", "x", "-n", "0"]) == 2


def test_notes_survive_export_import_and_are_searched(tmp_path, capsys):
    data = tmp_path / "data"
    store = ProgressStore(data / "progress.db")
    store.save_note("02", "chinchilla", "compute-optimal finally clicked (mnemonic: zorbaxian)")
    store.set_bookmark("02", "kaplan", True)
    store.close()
    assert main(["search", "zorbaxian"]) == 0  # a word no lesson uses: the note is the match
    assert "[your note]" in capsys.readouterr().out
    export = tmp_path / "export.json"
    assert main(["progress", "--json", "-o", str(export)]) == 0
    dump = json.loads(export.read_text())
    assert dump["tables"]["notes"][0]["text"] == "compute-optimal finally clicked (mnemonic: zorbaxian)"
    assert dump["tables"]["bookmarks"][0]["step_id"] == "kaplan"
    other = tmp_path / "other"
    assert main(["progress", "--data-dir", str(other), "import", str(export), "--yes"]) == 0
    s = ProgressStore(other / "progress.db")
    try:
        assert s.note("02", "chinchilla") == "compute-optimal finally clicked (mnemonic: zorbaxian)"
        assert s.is_bookmarked("02", "kaplan")
    finally:
        s.close()


def test_bench_search_reports_latency_and_recall(capsys):
    assert main(["bench", "search", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert "fts5 bm25 : p50" in out and "LIKE scan : p50" in out
    recall = float(out.split("quiz questions (prose, code, titles only): ")[1].split()[0])
    assert recall >= 0.8
