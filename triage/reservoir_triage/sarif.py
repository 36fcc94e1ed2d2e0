"""SARIF 2.1.0 for a triage run: one result per bug.

ruleId is the bug class; the message is the report's first line and the
signature; the location is a project source line: for a sanitizer report
the first project frame of its stack (never compiler-rt, libc or the
engine), for a reservoir report the ReportBug call that prints the bug's
place (found by searching the source tree for the place string);
partialFingerprints carry the signature key (and the older keys).
"""
import os
import re

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/os/schemas/"
                "sarif-schema-2.1.0.json")
SOURCE_DIRS = ("allocator", "injectors", "fuzz")
SOURCE_EXTS = (".cc", ".h", ".cpp", ".c")


def _source_files(root):
    for top in SOURCE_DIRS:
        for directory, dirs, files in os.walk(os.path.join(root, top)):
            dirs[:] = sorted(d for d in dirs if d != "tests")
            for name in sorted(files):
                if name.endswith(SOURCE_EXTS):
                    yield os.path.join(directory, name)


def find_place(root, place, _cache={}):
    """(relative path, line) of the source line that names `place` in a
    string literal: the whole place, else its part before '/', else its
    path after '/' (a place assembled at run time). None if not found."""
    if not place:
        return None
    cache_key = (root, place)
    if cache_key in _cache:
        return _cache[cache_key]
    base, _, path = place.partition("/")
    needles = [f'"{place}"', f'"{base}"', f'"{base}/']
    if path:
        needles.append(f'"{path}"')
        needles.append(f'/{path}"')
    found = None
    texts = []
    for file in _source_files(root):
        try:
            with open(file, encoding="utf-8", errors="replace") as f:
                texts.append((file, f.read().split("\n")))
        except OSError:
            continue
    for needle in needles:
        for file, lines in texts:
            for number, line in enumerate(lines, 1):
                if needle in line:
                    # The ReportBug call itself when the place is built
                    # a line or two before it.
                    for ahead in range(number, min(number + 6,
                                                   len(lines) + 1)):
                        if "ReportBug(" in lines[ahead - 1]:
                            number = ahead
                            break
                    found = (os.path.relpath(file, root), number)
                    break
            if found:
                break
        if found:
            break
    _cache[cache_key] = found
    return found


def _relative(root, path):
    """`path` relative to the repository: directly when it lies under
    `root`, else the longest tail of it that names a file in the
    repository (a log from another checkout or a CI machine); None for
    files outside the project (system headers, compiler-rt, libc)."""
    if not path:
        return None
    real_root = os.path.realpath(root)
    if os.path.isabs(path):
        real = os.path.realpath(path)
        if real.startswith(real_root + os.sep):
            return os.path.relpath(real, real_root)
    parts = [p for p in path.replace("\\", "/").split("/") if p not in
             ("", ".")]
    for i in range(len(parts)):
        tail = os.path.join(*parts[i:])
        if tail.split(os.sep)[0] in ("usr", "llvm", "compiler-rt"):
            continue
        if os.path.isfile(os.path.join(real_root, tail)):
            return tail
    return None


def location_of(root, bug, frames):
    """A SARIF location dict, or None."""
    spot = None
    for frame in frames:
        if frame.get("kind") == "project" and frame.get("file") and \
                frame.get("line"):
            rel = _relative(root, frame["file"])
            if rel is not None:
                spot = (rel, int(frame["line"]))
                break
    if spot is None and bug.get("origin") == "reservoir":
        spot = find_place(root, bug.get("place"))
    if spot is None:
        return None
    return {"physicalLocation": {
        "artifactLocation": {"uri": spot[0].replace(os.sep, "/"),
                             "uriBaseId": "SRCROOT"},
        "region": {"startLine": spot[1]}}}


def build_sarif(root, bugs, tool_version="1"):
    """The SARIF log (a dict) for `bugs`: dicts with signature, alt_keys,
    class, origin, place, first_line, explanation, frames, status,
    fault_induced, crashes."""
    rules, rule_index, results = [], {}, []
    for bug in bugs:
        rule = bug["class"] or "unknown"
        if rule not in rule_index:
            rule_index[rule] = len(rules)
            rules.append({"id": rule, "name": re.sub(r"[^A-Za-z0-9]", "",
                                                     rule.title()) or "Bug",
                          "shortDescription": {"text": f"{rule} "
                                               f"({bug['origin']})"}})
        result = {
            "ruleId": rule,
            "ruleIndex": rule_index[rule],
            "level": "error",
            "message": {"text": f"{bug['first_line']} (signature "
                                f"{bug['signature']}; {bug['status'] or ''}"
                                f"{', fault-induced' if bug.get('fault_induced') else ''})"},
            "partialFingerprints": {"reservoirSignature/v1":
                                    bug["signature"]},
            "properties": {"explanation": bug.get("explanation"),
                           "alt_keys": bug.get("alt_keys", []),
                           "crashes": bug.get("crashes", [])},
        }
        for n, key in enumerate(bug.get("alt_keys", [])):
            result["partialFingerprints"][f"reservoirSignatureAlt/{n}"] = key
        location = location_of(root, bug, bug.get("frames", []))
        result["locations"] = [location] if location else []
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": {"name": "reservoir-triage",
                                "version": tool_version,
                                "rules": rules}},
            "originalUriBaseIds": {"SRCROOT": {"description": {
                "text": "the root of the Reservoir repository"}}},
            "results": results,
        }],
    }


def check_sarif(doc):
    """The structural problems of a SARIF 2.1.0 log (a list of strings;
    empty when it is well formed), for the fields this tool writes: the
    spec's required properties (version, runs, tool.driver.name,
    result.message.text) and the types and values of the rest."""
    problems = []

    def need(cond, message):
        if not cond:
            problems.append(message)
    need(isinstance(doc, dict), "the log is not an object")
    if not isinstance(doc, dict):
        return problems
    need(doc.get("version") == "2.1.0", "version is not '2.1.0'")
    runs = doc.get("runs")
    need(isinstance(runs, list), "runs is not an array")
    for i, run in enumerate(runs or []):
        driver = (run.get("tool") or {}).get("driver") \
            if isinstance(run, dict) else None
        need(isinstance(driver, dict) and isinstance(driver.get("name"), str)
             and driver["name"], f"runs[{i}].tool.driver.name missing")
        rules = (driver or {}).get("rules", [])
        need(isinstance(rules, list), f"runs[{i}] rules is not an array")
        ids = [r.get("id") for r in rules if isinstance(r, dict)]
        need(all(isinstance(x, str) and x for x in ids),
             f"runs[{i}] a rule has no id")
        need(len(set(ids)) == len(ids), f"runs[{i}] rule ids repeat")
        results = run.get("results", [])
        need(isinstance(results, list), f"runs[{i}].results is not an array")
        for j, res in enumerate(results or []):
            where = f"runs[{i}].results[{j}]"
            need(isinstance(res, dict), f"{where} is not an object")
            if not isinstance(res, dict):
                continue
            msg = res.get("message")
            need(isinstance(msg, dict) and isinstance(msg.get("text"), str),
                 f"{where}.message.text missing")
            need(isinstance(res.get("ruleId"), str), f"{where}.ruleId missing")
            if "ruleIndex" in res:
                k = res["ruleIndex"]
                need(isinstance(k, int) and 0 <= k < len(ids)
                     and ids[k] == res.get("ruleId"),
                     f"{where}.ruleIndex does not name its ruleId")
            need(res.get("level", "warning") in ("none", "note", "warning",
                                                 "error"),
                 f"{where}.level is not a SARIF level")
            fp = res.get("partialFingerprints", {})
            need(isinstance(fp, dict) and all(isinstance(v, str)
                                              for v in fp.values()),
                 f"{where}.partialFingerprints is not a string map")
            for loc in res.get("locations", []):
                phys = loc.get("physicalLocation", {})
                art = phys.get("artifactLocation", {})
                need(isinstance(art.get("uri"), str) and art["uri"],
                     f"{where} location has no artifactLocation.uri")
                uri = art.get("uri", "")
                need(not uri.startswith("/") and "compiler-rt" not in uri
                     and "libc" not in uri.split("/")[0],
                     f"{where} location {uri} is not a project source file")
                region = phys.get("region", {})
                need(isinstance(region.get("startLine"), int)
                     and region["startLine"] >= 1,
                     f"{where} region.startLine is not a positive integer")
    return problems
