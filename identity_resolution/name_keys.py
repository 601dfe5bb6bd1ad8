"""Names as match keys, and the text folding other attributes share.

`name_expr` folds text: trimmed, lower-case, accents and punctuation stripped, whitespace
collapsed (`collapse_whitespace`), the usual spellings of "nothing" made null (`blank_to_null`).
Addresses, cities, companies, job titles and gender are folded the same way
(`address_date_id_keys`). On top of it a name loses its titles and suffixes, keeps a generational
suffix (Jr., II) apart, and gets a Soundex key and the nickname aliases and families of
`nicknames`. Names are kept apart from the other attributes because they carry most of the
rules: what counts as a title, a suffix, a sound-alike or another form of the same given name.
"""

from __future__ import annotations

import polars as pl

from identity_resolution.nicknames import NAME_FAMILIES, NICKNAMES

TITLES = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "mstr",
        "master",
        "dr",
        "doctor",
        "sir",
        "dame",
        "lord",
        "lady",
        "rev",
        "revd",
        "reverend",
        "prof",
        "professor",
        "capt",
        "captain",
        "col",
        "colonel",
        "major",
        "maj",
        "gen",
        "general",
        "lt",
        "hon",
        "rt",
        "fr",
        "father",
        "madam",
        "madame",
        "mme",
        "mlle",
        "herr",
        "frau",
        "sr",
        "sra",
        "srta",
        "baron",
        "baroness",
        "count",
        "countess",
        "earl",
        "duke",
    }
)
SUFFIXES = frozenset(
    {
        "jr",
        "jnr",
        "junior",
        "sr",
        "snr",
        "senior",
        "ii",
        "iii",
        "iv",
        "phd",
        "md",
        "esq",
        "dds",
        "cpa",
        "bt",
        "bart",
        "baronet",
        "kt",
        "obe",
        "mbe",
        "cbe",
        "kbe",
        "qc",
        "kc",
        "frs",
    }
)
# "1st", "2nd", "3rd", "4th"... as in "Thomas Clifford, 1st Baron": never part of a name.
_ORDINAL = r"\b\d+(?:st|nd|rd|th)\b"
_EMPTY_MARKERS = ["", "null", "none", "nan", "n/a", "na", "-", "unknown", "?"]


def blank_to_null(expr: pl.Expr) -> pl.Expr:
    """Trimmed text, null where it is empty or one of the usual spellings of "nothing" (`n/a`, `-`).

    Args:
        expr: an expression of any type (read as text).

    Returns:
        A polars expression.
    """
    trimmed = expr.cast(pl.Utf8).str.strip_chars()
    return pl.when(trimmed.str.to_lowercase().is_in(_EMPTY_MARKERS)).then(None).otherwise(trimmed)


def _ascii_fold(expr: pl.Expr) -> pl.Expr:
    """Lower-case and strip accents (é -> e) by decomposing and dropping combining marks."""
    return expr.str.to_lowercase().str.normalize("NFKD").str.replace_all(r"\p{M}", "")


def collapse_whitespace(expr: pl.Expr) -> pl.Expr:
    """Runs of whitespace made one space, the ends trimmed, and null when nothing is left.

    Args:
        expr: a text expression.

    Returns:
        A polars expression.
    """
    collapsed = expr.str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.when(collapsed == "").then(None).otherwise(collapsed)


def name_expr(column: str | pl.Expr) -> pl.Expr:
    """Trimmed, lower-case, accent-free name with punctuation removed and
    whitespace collapsed (`"  O'Brien-Smith "` -> `"obrien smith"`).

    Args:
        column: a column name or expression.

    Returns:
        A polars expression.
    """
    expr = pl.col(column) if isinstance(column, str) else column
    folded = _ascii_fold(blank_to_null(expr))
    folded = folded.str.replace_all(r"['’`]", "").str.replace_all(r"[^a-z0-9 ]", " ")
    return collapse_whitespace(folded.str.replace_all(_ORDINAL, " "))


def _drop_tokens(expr: pl.Expr, words: frozenset[str], *, leading: bool) -> pl.Expr:
    """Remove title words from the start (or suffix words from the end) of a normalised name."""
    pattern = (
        r"^(?:(?:" + "|".join(sorted(words)) + r")\s+)+"
        if leading
        else r"(?:\s+(?:" + "|".join(sorted(words)) + r"))+$"
    )
    stripped = expr.str.replace(pattern, "")
    # A name made only of a title ("sir") carries no name at all.
    bare = expr.is_in(list(words))
    return pl.when(bare).then(None).otherwise(collapse_whitespace(stripped))


def first_name_expr(column: str | pl.Expr) -> pl.Expr:
    """A normalised first name with leading titles removed (`"Dr. Ann"` -> `"ann"`).

    Args:
        column: a column name or expression.

    Returns:
        A polars expression.
    """
    return _drop_tokens(name_expr(column), TITLES, leading=True)


def last_name_expr(column: str | pl.Expr) -> pl.Expr:
    """A normalised last name with trailing suffixes removed (`"King Jr."` -> `"king"`).

    Args:
        column: a column name or expression.

    Returns:
        A polars expression.
    """
    return _drop_tokens(name_expr(column), SUFFIXES, leading=False)


def full_name_expr(column: str | pl.Expr) -> pl.Expr:
    """A normalised full name without titles or suffixes.

    Args:
        column: a column name or expression.

    Returns:
        A polars expression.
    """
    return _drop_tokens(_drop_tokens(name_expr(column), TITLES, leading=True), SUFFIXES, leading=False)


# Generational suffixes, each written several ways: Jr. and Junior are one suffix, II another.
_GENERATIONS = {
    "jr": "jr",
    "jnr": "jr",
    "junior": "jr",
    "sr": "sr",
    "snr": "sr",
    "senior": "sr",
    "ii": "ii",
    "2nd": "ii",
    "iii": "iii",
    "3rd": "iii",
    "iv": "iv",
    "4th": "iv",
    "v": "v",
}


def name_suffix_expr(column: str | pl.Expr) -> pl.Expr:
    """The generational suffix at the end of a name (`"Martin Luther King Jr."` -> `"jr"`,
    `"Henry Ford II"` -> `"ii"`), or null. Jr. and Sr. tell a father from his son when
    everything else (name, address, phone) is shared, so they are kept apart from the name.

    Args:
        column: a column name or expression (a last or full name).

    Returns:
        A polars expression: one of jr, sr, ii, iii, iv, v, or null.
    """
    expr = pl.col(column) if isinstance(column, str) else column
    words = _ascii_fold(blank_to_null(expr)).str.replace_all(r"[^a-z0-9 ]", " ")
    last = collapse_whitespace(words).str.split(" ")
    # A lone "v" or "ii" is not a suffix; it must follow a name.
    tail = pl.when(last.list.len() >= 2).then(last.list.last())
    return tail.replace_strict(_GENERATIONS, default=None, return_dtype=pl.Utf8)


# Soundex letter classes; vowels (and y) separate repeated codes, h and w do not.
_SOUNDEX_CLASSES = (
    ("[bfpv]", "1"),
    ("[cgjkqsxz]", "2"),
    ("[dt]", "3"),
    ("l", "4"),
    ("[mn]", "5"),
    ("r", "6"),
)


def soundex_expr(column: str | pl.Expr) -> pl.Expr:
    """American Soundex of a normalised name (`"robert"`, `"rupert"` -> `"R163"`), vectorised.

    A phonetic key: names that sound alike share it whatever the spelling (Smith, Smyth), so it
    catches misspellings Jaro-Winkler scores low and gives blocking a key that survives them.

    Args:
        column: a column name or expression holding a normalised name (first word used).

    Returns:
        A polars expression: a letter and three digits, or null.
    """
    expr = pl.col(column) if isinstance(column, str) else column
    word = expr.str.split(" ").list.first().str.replace_all(r"[^a-z]", "")
    # h and w are dropped (they do not separate two equal codes), except as the first letter.
    codes = word.str.slice(0, 1) + word.str.slice(1).str.replace_all(r"[hw]", "")
    for pattern, digit in _SOUNDEX_CLASSES:
        codes = codes.str.replace_all(pattern, digit)
    codes = codes.str.replace_all(r"[aeiouy]", "0")
    for digit in "123456":
        codes = codes.str.replace_all(f"{digit}{digit}+", digit)
    tail = codes.str.slice(1).str.replace_all("0", "")
    key = pl.concat_str(word.str.slice(0, 1).str.to_uppercase(), tail, pl.lit("000")).str.slice(0, 4)
    return pl.when(word.str.len_chars() > 0).then(key)


def first_name_aliases_expr(first_name_norm: str | pl.Expr) -> pl.Expr:
    """The list of names a normalised first name may stand for: itself and every
    long form it is a nickname of (`fred` -> `[fred, frederick, alfred]`).

    Args:
        first_name_norm: a column name or expression.

    Returns:
        A polars expression.
    """
    expr = pl.col(first_name_norm) if isinstance(first_name_norm, str) else first_name_norm
    first_word = expr.str.split(" ").list.first()
    table = {nickname: list(names) for nickname, names in NICKNAMES.items()}
    longs = first_word.replace_strict(table, default=[], return_dtype=pl.List(pl.Utf8))
    return pl.when(expr.is_null()).then(None).otherwise(pl.concat_list(first_word, longs))


def first_name_family_expr(first_name_norm: str | pl.Expr) -> pl.Expr:
    """Every name a normalised first name may be written as by the same person, in either
    direction (`chris` -> christina, christopher and their other short forms; `christina` ->
    chris, tina, ...); a name outside the nickname table is its own family.

    Args:
        first_name_norm: a column name or expression.

    Returns:
        A polars expression (a list of names).
    """
    expr = pl.col(first_name_norm) if isinstance(first_name_norm, str) else first_name_norm
    first_word = expr.str.split(" ").list.first()
    table = {name: list(family) for name, family in NAME_FAMILIES.items()}
    family = first_word.replace_strict(table, default=None, return_dtype=pl.List(pl.Utf8))
    return pl.when(expr.is_null()).then(None).otherwise(pl.coalesce(family, pl.concat_list(first_word)))
