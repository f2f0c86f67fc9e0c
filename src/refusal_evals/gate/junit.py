"""JUnit XML for CI systems: one testcase per gate result (a check, or a rule for one model)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from refusal_evals.gate.evaluate import Result


def junit_xml(results: list[Result], suite: str = "refusal-evals gate") -> str:
    failures = sum(not r.passed for r in results)
    root = ET.Element("testsuites", name=suite, tests=str(len(results)), failures=str(failures))
    ts = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(results)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    for r in results:
        name = r.rule if r.model in ("*", "") else f"{r.rule} [{r.model}]"
        tc = ET.SubElement(ts, "testcase", classname=f"gate.{r.task}", name=name)
        text = f"value {r.value}, limit {r.limit}" + (f"; {r.detail}" if r.detail else "")
        if not r.passed:
            fail = ET.SubElement(tc, "failure", message=text, type="GateRuleFailed")
            fail.text = text
        else:
            out = ET.SubElement(tc, "system-out")
            out.text = text
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(results: list[Result], path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(junit_xml(results), encoding="utf-8")
    return p
