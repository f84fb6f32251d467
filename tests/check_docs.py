#!/usr/bin/env python3
"""The repository's documents stand alone and their commands run as written.

- No file points outside the repository: to a notes file of the team's shared folder.
- Every relative link or image in a Markdown file names a file of the repository.
- In README.md's shell blocks, sbctl is called by its build path, or after the line that puts
  build/client on the PATH: the build does not install it.

usage: check_docs.py SOURCE_DIR
"""
import os
import re
import sys

SKIP_DIRS = {".git", "node_modules"}
OUTSIDE = ("NOTES-" + "stack", "../" + "shared/")  # split, so this file does not match itself


def files(root):
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if x not in SKIP_DIRS and not x.startswith("build")]
        for n in names:
            yield os.path.join(d, n)


def main(root):
    problems = []
    for path in files(root):
        try:
            text = open(path, encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue
        rel = os.path.relpath(path, root)
        for n, line in enumerate(text.splitlines(), 1):
            for needle in OUTSIDE:
                if needle in line:
                    problems.append(f"{rel}:{n}: points outside the repository ({needle})")
        if path.endswith(".md"):
            for target in re.findall(r"\]\(([^)\s]+)\)", text):
                if re.match(r"[a-z]+:|#", target):
                    continue
                if not os.path.exists(os.path.join(os.path.dirname(path), target.split("#")[0])):
                    problems.append(f"{rel}: links to {target}, which is not in the repository")

    in_sh = path_set = False
    for n, line in enumerate(open(os.path.join(root, "README.md"), encoding="utf-8"), 1):
        if line.startswith("```"):
            in_sh = not in_sh and line.strip() in ("```sh", "```bash", "```console")
            path_set = False
            continue
        if in_sh and "build/client:$PATH" in line:
            path_set = True
        if in_sh and re.match(r"\s*(\$ )?sbctl\s", line) and not path_set:
            problems.append(f"README.md:{n}: calls sbctl, which is not on the PATH: "
                            "build/client/sbctl, or put build/client on the PATH first")
    for p in problems:
        print(p)
    print(f"documents: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
