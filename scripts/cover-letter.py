#!/usr/bin/env python3
"""Turn a git format-patch cover letter back into a branch description.

git format-patch --cover-from-description=subject writes the description's
first paragraph as the cover letter's subject and the rest as its body,
followed by the shortlog ("Author (N):") and the diffstat.  This reads such a
cover letter on stdin and prints the description, so that the cover letter
round-trips through the kernel tree unchanged.
"""
import re
import sys


def to_description(text: str) -> str:
    header, _, body = text.partition("\n\n")
    subject = []
    in_subject = False
    for line in header.splitlines():
        if line.startswith("Subject:"):
            in_subject = True
            subject.append(line[len("Subject:"):].strip())
        elif in_subject and line[:1] in (" ", "\t"):
            subject.append(line.strip())
        else:
            in_subject = False
    subj = re.sub(r"^\[[^\]]*\]\s*", "", " ".join(subject))
    lines = body.splitlines()
    # The body ends where the shortlog starts: "Name (N):" then indented subjects.
    end = len(lines)
    for i, line in enumerate(lines):
        if re.match(r"^\S.* \(\d+\):$", line) and i + 1 < len(lines) and lines[i + 1].startswith("  "):
            end = i
            break
    text_body = "\n".join(lines[:end]).strip("\n")
    return subj + "\n\n" + text_body + "\n"


if __name__ == "__main__":
    if sys.argv[1:] != ["to-description"]:
        sys.exit("usage: cover-letter.py to-description <cover-letter.patch")
    sys.stdout.write(to_description(sys.stdin.read()))
