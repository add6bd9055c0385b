"""The programs that may run unasked, and for each the options that would make it write or
run something.

A program is listed only when we know every way it can write or execute: for the ones
with such options, the full list of long options is kept so that abbreviations resolve as
getopt would resolve them (see :mod:`agentls.tools.safety.options`). Programs without any
such option accept every option; their arguments still go through the path checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agentls.tools.safety.options import Options, Parsed
from agentls.tools.safety.sed import sed_script_ok

__all__ = ["RULES", "Rule"]


@dataclass(frozen=True)
class Rule:
    options: Options | None = None
    """``None``: no option of the program writes or executes."""
    literal: bool = False
    """Whether every argument must be exactly what the program sees: an option whose
    name comes out of a glob or a variable (a file named ``-delete``) cannot be checked."""
    check: Callable[[Parsed], bool] | None = None
    recursive: Callable[[Parsed], bool] | None = None
    """Whether the program reads every file below its operands (or its working folder)."""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _always(_parsed: Parsed) -> bool:
    return True


def _short_or_long(parsed: Parsed, letters: str, names: tuple[str, ...]) -> bool:
    return any(
        (len(name) == 2 and name[1] in letters) or name in names for name, _ in parsed.options
    )


# --- sort, uniq, date, file, tree ------------------------------------------------------------

_SORT = Options(
    long=_words(
        "batch-size buffer-size check compress-program debug dictionary-order field-separator "
        "files0-from general-numeric-sort help human-numeric-sort ignore-case "
        "ignore-leading-blanks ignore-nonprinting key merge month-sort numeric-sort output "
        "parallel random-sort random-source reverse sort stable temporary-directory unique "
        "version version-sort zero-terminated"
    ),
    # -o writes the output file, --compress-program runs a program, -T writes temp files;
    # --files0-from sorts the files a list names, which the path checks never see.
    forbidden_long=_words("output compress-program temporary-directory files0-from"),
    forbidden_short="oT",
    short_values="kSotT",
    long_values=_words(
        "batch-size buffer-size compress-program field-separator files0-from key output "
        "parallel random-source sort temporary-directory"
    ),
)

_UNIQ = Options(
    long=_words(
        "all-repeated check-chars count group help ignore-case repeated skip-chars "
        "skip-fields unique version zero-terminated"
    ),
    short_values="fsw",
    long_values=_words("check-chars skip-chars skip-fields"),
)

_DATE = Options(
    long=_words(
        "date debug file help iso-8601 reference resolution rfc-3339 rfc-email set universal "
        "utc version"
    ),
    forbidden_long=_words("set"),
    forbidden_short="s",
    short_values="dfrs",
    long_values=_words("date file reference rfc-3339 set"),
)

_FILE = Options(
    long=_words(
        "apple brief checking-printout compile debug dereference exclude exclude-quiet "
        "extension files-from help keep-going list magic-file mime mime-encoding mime-type "
        "no-buffer no-dereference no-pad no-sandbox parameter preserve-date print0 raw "
        "separator special-files uncompress uncompress-noreport version"
    ),
    # -C compiles a magic file to disk; -p sets access times back (a write); -z/-Z run
    # decompressors; --no-sandbox lifts file's own seccomp filter.
    forbidden_long=_words("compile preserve-date uncompress uncompress-noreport no-sandbox"),
    forbidden_short="CpzZ",
    short_values="efFmP",
    long_values=_words("exclude exclude-quiet files-from magic-file parameter separator"),
)

# tree is not installed here and its parser is its own; keep what is known to write
# (-o FILE, and -R which writes 00Tree.html files with -H).
_TREE = Options(
    long=None, forbidden_long=_words("output"), forbidden_short="oR", short_values="LPIHT"
)

# --- grep, rg, diff: readers of whole trees -------------------------------------------------

_GREP = Options(
    long=_words(
        "after-context basic-regexp before-context binary binary-files byte-offset color "
        "colour context count dereference-recursive devices directories exclude exclude-dir "
        "exclude-from extended-regexp file files-with-matches files-without-match "
        "fixed-strings group-separator help ignore-case include initial-tab invert-match "
        "label line-buffered line-number line-regexp max-count no-filename "
        "no-group-separator no-ignore-case no-messages null null-data only-matching "
        "perl-regexp quiet recursive regexp silent text version with-filename word-regexp"
    ),
    # -R follows every symlink below the start, which may lead anywhere (/proc included).
    forbidden_long=_words("dereference-recursive"),
    forbidden_short="R",
    short_values="efmABCdD",
    long_values=_words(
        "after-context before-context binary-files context devices directories exclude "
        "exclude-dir exclude-from file group-separator include label max-count regexp"
    ),
)


def _grep_recursive(parsed: Parsed) -> bool:
    return _short_or_long(parsed, "r", ("--recursive",)) or any(
        value.startswith("rec") for value in parsed.values("-d", "--directories")
    )


_RG = Options(
    long=_words(
        "after-context auto-hybrid-regex before-context binary block-buffered byte-offset "
        "case-sensitive color colors column context context-separator count count-matches "
        "crlf debug dfa-size-limit encoding engine field-context-separator "
        "field-match-separator file files files-with-matches files-without-match "
        "fixed-strings follow generate glob glob-case-insensitive heading help hidden "
        "hostname-bin hyperlink-format iglob ignore ignore-case ignore-dot ignore-exclude "
        "ignore-file ignore-file-case-insensitive ignore-files ignore-global ignore-messages "
        "ignore-parent ignore-vcs include-zero invert-match json line-buffered line-number "
        "line-regexp max-columns max-columns-preview max-count max-depth max-filesize mmap "
        "multiline multiline-dotall no-binary no-block-buffered no-byte-offset "
        "no-column no-config no-context-separator no-crlf no-encoding no-filename "
        "no-fixed-strings no-follow no-glob-case-insensitive no-heading no-hidden no-ignore "
        "no-ignore-dot no-ignore-exclude no-ignore-file-case-insensitive no-ignore-files "
        "no-ignore-global no-ignore-messages no-ignore-parent no-ignore-vcs no-include-zero "
        "no-invert-match no-json no-line-buffered no-line-number no-max-columns-preview "
        "no-messages no-mmap no-multiline no-multiline-dotall no-one-file-system no-pcre2 "
        "no-pcre2-unicode no-pre no-require-git no-search-zip no-sort-files no-text "
        "no-trim no-unicode null null-data one-file-system only-matching passthru "
        "passthrough path-separator pcre2 pcre2-version pre pre-glob pretty quiet "
        "regex-size-limit regexp replace search-zip smart-case sort sort-files sortr stats "
        "stop-on-nonmatch text threads trim type type-add type-clear type-list type-not "
        "unrestricted version vimgrep with-filename word-regexp"
    ),
    # --pre runs a program per file, -z/--search-zip runs decompressors, --hostname-bin runs
    # one for hyperlinks, -L/--follow follows symlinks anywhere.
    forbidden_long=_words("pre pre-glob search-zip hostname-bin follow"),
    forbidden_short="zL",
    short_values="ABCEMTdefgjmrt",
    long_values=_words(
        "after-context before-context color colors context context-separator "
        "dfa-size-limit encoding engine field-context-separator field-match-separator file "
        "generate glob hostname-bin hyperlink-format iglob ignore-file max-columns max-count "
        "max-depth max-filesize path-separator pre pre-glob regex-size-limit regexp "
        "replace sort sortr threads type type-add type-clear type-not"
    ),
)


def _diff_recursive(parsed: Parsed) -> bool:
    # No full list is kept for diff (none of its options writes or runs anything), so a long
    # option arrives as given: any prefix of --recursive counts.
    return any(
        (len(name) == 2 and name[1] == "r") or (len(name) > 2 and "--recursive".startswith(name))
        for name, _ in parsed.options
    )


_DIFF = Rule(options=Options(long=None, short_values="CDFILSUWXx"), recursive=_diff_recursive)

# --- find, sed: their own languages ---------------------------------------------------------

_FIND_FORBIDDEN = _words("-exec -execdir -ok -okdir -delete -fprint -fprint0 -fprintf -fls")


def _find_ok(parsed: Parsed) -> bool:
    # find's primaries are whole words, never abbreviated or clustered, so it gets no
    # option parsing: every argument arrives as an operand and is compared as it is.
    return not any(arg in _FIND_FORBIDDEN for arg in parsed.operands)


_SED = Options(
    long=_words(
        "debug expression file follow-symlinks help in-place line-length null-data "
        "zero-terminated posix quiet regexp-extended sandbox separate silent unbuffered version"
    ),
    # -i edits files in place; a script file (-f) cannot be checked.
    forbidden_long=_words("in-place file"),
    forbidden_short="if",
    short_values="efl",
    long_values=_words("expression file line-length"),
)


def _sed_ok(parsed: Parsed) -> bool:
    scripts = parsed.values("-e", "--expression")
    if not scripts:
        if not parsed.operands:
            return False
        scripts = [parsed.operands[0]]
    return all(sed_script_ok(script) for script in scripts)


_FREE = Rule()

RULES: dict[str, Rule] = {
    "cat": _FREE,
    "cut": _FREE,
    "df": _FREE,
    "diff": _DIFF,
    "du": _FREE,
    "echo": _FREE,
    "head": _FREE,
    "ls": _FREE,
    "nl": _FREE,
    "pwd": _FREE,
    "stat": _FREE,
    "tail": _FREE,
    "tr": _FREE,
    "uname": _FREE,
    "wc": _FREE,
    "which": _FREE,
    "whoami": _FREE,
    "grep": Rule(options=_GREP, recursive=_grep_recursive),
    "rg": Rule(options=_RG, literal=True, recursive=_always),
    "sort": Rule(options=_SORT, literal=True),
    "uniq": Rule(options=_UNIQ, literal=True, check=lambda parsed: len(parsed.operands) <= 1),
    "date": Rule(options=_DATE, literal=True),
    "file": Rule(options=_FILE, literal=True),
    "tree": Rule(options=_TREE, literal=True),
    "find": Rule(literal=True, check=_find_ok),
    "sed": Rule(options=_SED, literal=True, check=_sed_ok),
}
