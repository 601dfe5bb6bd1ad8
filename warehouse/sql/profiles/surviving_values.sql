-- The surviving value of every contested (profile, attribute), one whose records disagree: the
-- best candidate under the attribute's rule chain, the row it came from, its key and the rule
-- that decided. (Pairs whose records agree were settled in one grouped pass before.)
--
-- Inputs (temporary tables), all integers, because grouping and comparing integers is much
-- faster than text (see identity_resolution/survivorship_keys.py for the keys):
--   _kindred_sv_candidates(pid, rid, rn, a, h, k): one row per row (`rn`) of a record (`rid`)
--       that carries a value of attribute `a` for profile `pid`: the value's hash `h` and the
--       row's key `k` (every field of the chain but frequency and hash).
--   _kindred_sv_layout(a, frequency_shift, hash_bits, rule_1..4, shift_1..4, bits_1..4): where
--       each attribute's key keeps each field, and its chain's rules in order (NULL past the end).
WITH per_value AS (
    -- A value's best row, and how many records carry it (a record seen in many rows counts once).
    SELECT pid, a, h, count(*) AS n_records, max(k) AS k, arg_max(rn, k) AS rn
    FROM (
        SELECT pid, a, h, rid, max(k) AS k, arg_max(rn, k) AS rn
        FROM _kindred_sv_candidates
        GROUP BY pid, a, h, rid
    )
    GROUP BY pid, a, h
),
keyed AS (
    SELECT
        v.pid,
        v.a,
        v.rn,
        v.k,
        v.k
            + coalesce(v.n_records::HUGEINT << l.frequency_shift, 0)
            + CASE WHEN l.hash_bits > 0 THEN (v.h >> (64 - l.hash_bits))::HUGEINT ELSE 0 END AS full_key
    FROM per_value AS v
    JOIN _kindred_sv_layout AS l USING (a)
),
ranked AS (
    -- The winner, and the two best keys: the winner's and the runner-up's (another value).
    SELECT pid, a, arg_max(rn, full_key) AS rn, arg_max(k, full_key) AS k, max(full_key, 2) AS top
    FROM keyed
    GROUP BY pid, a
)
SELECT
    r.pid,
    r.a,
    r.rn,
    r.k,
    -- The first rule of the chain whose field tells the winner from the runner-up decided.
    CASE
        WHEN len(r.top) < 2 THEN 'only_value'
        WHEN (r.top[1] >> l.shift_1) % (1::HUGEINT << l.bits_1) <> (r.top[2] >> l.shift_1) % (1::HUGEINT << l.bits_1)
            THEN l.rule_1
        WHEN (r.top[1] >> l.shift_2) % (1::HUGEINT << l.bits_2) <> (r.top[2] >> l.shift_2) % (1::HUGEINT << l.bits_2)
            THEN l.rule_2
        WHEN (r.top[1] >> l.shift_3) % (1::HUGEINT << l.bits_3) <> (r.top[2] >> l.shift_3) % (1::HUGEINT << l.bits_3)
            THEN l.rule_3
        WHEN (r.top[1] >> l.shift_4) % (1::HUGEINT << l.bits_4) <> (r.top[2] >> l.shift_4) % (1::HUGEINT << l.bits_4)
            THEN l.rule_4
        ELSE 'tie_break'
    END AS rule
FROM ranked AS r
JOIN _kindred_sv_layout AS l USING (a)
