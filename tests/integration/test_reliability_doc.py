"""tests/RELIABILITY.md stays honest.

- Every test it names (`test_x.Class` or `test_x.Class.test_method`) exists.
- Every constant it quotes (`test_x.NAME = value`) equals the value the
  test module assigns to NAME (module-level constants, evaluated from the
  source without importing it).
- Every path it quotes (`tests/...`, `proto/...`, `daemon/...`) exists.
- Its figures table names exactly the figures the tests report with
  harness.figure(), with the same units.

Run with --figures to print the figures table rows from the last run's
<build>/figures/*.txt (what to paste into the document after a re-run).
"""

import ast
import glob
import operator
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HERE = harness.HERE
DOC = os.path.join(harness.SOURCE_ROOT, "tests", "RELIABILITY.md")

TEST_REF = re.compile(r"`(test_[a-z0-9_]+)\.([A-Z][A-Za-z0-9_]*)(?:\.(test_[A-Za-z0-9_]+))?`")
CONST_REF = re.compile(r"`(test_[a-z0-9_]+)\.([A-Z][A-Z0-9_]*) = ([^`]+)`")
PATH_REF = re.compile(r"`((?:tests|proto|daemon|tools|config)/[A-Za-z0-9_./-]+)`")
FIGURE_ROW = re.compile(r"^\| `([a-z][a-z0-9_]*)` \| ([^|]+) \| ([^|]+) \|")

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv, ast.LShift: operator.lshift, ast.Pow: operator.pow}


def _eval(node, names):
    """A constant expression: numbers, strings, earlier constants, + - * / // << **."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.left, names), _eval(node.right, names))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, names)
    raise ValueError("not a constant expression")


def module_info(name):
    """(constants, {class: set of methods}, [(figure name, unit)]) of
    tests/integration/<name>.py, from its source."""
    with open(os.path.join(HERE, name + ".py"), encoding="utf-8") as f:
        tree = ast.parse(f.read(), name)
    consts, classes = {}, {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                consts[node.targets[0].id] = _eval(node.value, consts)
            except (ValueError, TypeError, KeyError):
                pass
        elif isinstance(node, ast.ClassDef):
            classes[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
    return consts, classes, figure_calls(tree)


def figure_calls(tree):
    out = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "figure"
                and len(node.args) == 3 and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[2], ast.Constant)):
            out.append((node.args[0].value, node.args[2].value))
    return out


def all_figures():
    """{figure name: (unit, suite)} over every test script."""
    out = {}
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        suite = os.path.splitext(os.path.basename(path))[0]
        for name, unit in module_info(suite)[2]:
            out[name] = (unit, suite)
    return out


def doc_text():
    with open(DOC, encoding="utf-8") as f:
        return f.read()


def doc_figures(text):
    """{name: (value, unit)} from the figures table rows."""
    out = {}
    for line in text.splitlines():
        m = FIGURE_ROW.match(line)
        if m:
            out[m.group(1)] = (m.group(2).strip(), m.group(3).strip())
    return out


class ReliabilityDocTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.text = doc_text()

    def test_named_tests_exist(self):
        refs = TEST_REF.findall(self.text)
        self.assertGreaterEqual(len(refs), 10, "the document should name the tests that prove it")
        missing = []
        for suite, cls, method in refs:
            if not os.path.exists(os.path.join(HERE, suite + ".py")):
                missing.append(f"{suite} (no such file)")
                continue
            classes = module_info(suite)[1]
            if cls not in classes or (method and method not in classes[cls]):
                missing.append(".".join(x for x in (suite, cls, method) if x))
        self.assertEqual(missing, [], "RELIABILITY.md names tests that do not exist")

    def test_quoted_constants_match_the_tests(self):
        refs = CONST_REF.findall(self.text)
        self.assertGreaterEqual(len(refs), 10, "the document should quote the tests' thresholds")
        wrong = []
        for suite, name, quoted in refs:
            consts = module_info(suite)[0]
            try:
                want = ast.literal_eval(quoted.strip())
            except (ValueError, SyntaxError):
                wrong.append(f"{suite}.{name}: cannot read the quoted value {quoted!r}")
                continue
            if name not in consts:
                wrong.append(f"{suite}.{name}: no such module constant")
            elif not (consts[name] == want or (isinstance(want, float) and abs(consts[name] - want) < 1e-9)):
                wrong.append(f"{suite}.{name}: the document says {want!r}, the test uses {consts[name]!r}")
        self.assertEqual(wrong, [], "RELIABILITY.md quotes thresholds the tests do not use")

    def test_quoted_paths_exist(self):
        paths = set(PATH_REF.findall(self.text))
        self.assertTrue(paths)
        self.assertEqual(sorted(p for p in paths if not os.path.exists(os.path.join(harness.SOURCE_ROOT, p))), [])

    def test_figures_table_matches_the_tests(self):
        documented, reported = doc_figures(self.text), all_figures()
        self.assertEqual(sorted(set(documented) - set(reported)), [], "figures no test reports")
        self.assertEqual(sorted(set(reported) - set(documented)), [], "figures the document leaves out")
        self.assertEqual({n: u for n, (_, u) in documented.items()}, {n: u for n, (u, _) in reported.items()},
                         "units differ")
        # The last run's figures, if any, for whoever refreshes the document.
        latest = latest_figures()
        if latest:
            changed = {n: (documented[n][0], v) for n, (v, _) in latest.items()
                       if n in documented and documented[n][0] != v}
            print(f"\n  figures of the last run in {harness.FIGURES_DIR}: {len(latest)}; differing from the "
                  f"document (document, run): {changed}", file=sys.stderr)


def latest_figures():
    """{name: (value, unit)} from <build>/figures/*.txt."""
    out = {}
    for path in sorted(glob.glob(os.path.join(harness.FIGURES_DIR, "*.txt"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 4 and parts[0] == "FIGURE":
                    out[parts[1]] = (parts[2], parts[3])
    return out


def print_figure_rows():
    reported = all_figures()
    for name, (value, unit) in sorted(latest_figures().items(), key=lambda kv: (reported.get(kv[0], ("", ""))[1],
                                                                               kv[0])):
        suite = reported.get(name, ("?", "?"))[1]
        print(f"| `{name}` | {value} | {unit} | {suite} |")


if __name__ == "__main__":
    if sys.argv[1:] == ["--figures"]:
        print_figure_rows()
        sys.exit(0)
    unittest.main(verbosity=2)
