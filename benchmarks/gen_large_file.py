#!/usr/bin/env python3
"""Generate a large, realistic Go source file for the LSP benchmark.

The file is one package of an imaginary order-management service: model
types, database/sql store methods, net/http handlers, outbound HTTP clients,
background workers and small helpers.  Most functions are written the way
they should be; about one in twelve carries a leak of the kind golsp-leaks
reports (a lost cancel, unclosed rows or body, an unfinished transaction, a
goroutine without exit, time.After in a loop...), so the rules have real work
to do on every edit.  A few comments and strings hold non-ASCII text so that
UTF-8 and UTF-16 positions differ.

The output is deterministic for a given ``--seed`` and ``--lines``.

    python benchmarks/gen_large_file.py -o /tmp/large.go            # >= 10,000 lines
    python benchmarks/gen_large_file.py --lines 50000 --seed 7 -o big.go
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from pathlib import Path

HEADER = """\
// Package orders is the order-management service: catalogue, carts, orders,
// payments, shipping and the workers that keep them in sync.
//
// Code generated for benchmarking golsp-leaks; realistic, but not a real service.
package orders

import (
\t"bytes"
\t"context"
\t"database/sql"
\t"encoding/json"
\t"errors"
\t"fmt"
\t"io"
\t"log"
\t"net/http"
\t"os"
\t"strconv"
\t"strings"
\t"sync"
\t"time"
)

var (
\tErrNotFound   = errors.New("not found")
\tErrConflict   = errors.New("conflict")
\tErrValidation = errors.New("validation failed")
)

// Service holds the dependencies of every handler and worker.
type Service struct {
\tdb     *sql.DB
\tclient *http.Client
\tlog    *log.Logger
\tbase   string
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func writeJSON(w http.ResponseWriter, status int, v any) {
\tbuf := bufPool.Get().(*bytes.Buffer)
\tbuf.Reset()
\tdefer bufPool.Put(buf)
\tif err := json.NewEncoder(buf).Encode(v); err != nil {
\t\thttp.Error(w, "encoding failed", http.StatusInternalServerError)
\t\treturn
\t}
\tw.Header().Set("Content-Type", "application/json; charset=utf-8")
\tw.WriteHeader(status)
\t_, _ = w.Write(buf.Bytes())
}

func pathID(r *http.Request, prefix string) (int64, error) {
\treturn strconv.ParseInt(strings.TrimPrefix(r.URL.Path, prefix), 10, 64)
}

func fileSize(path string) (int64, error) {
\tf, err := os.Open(path)
\tif err != nil {
\t\treturn 0, err
\t}
\tdefer f.Close()
\tn, err := io.Copy(io.Discard, f)
\treturn n, err
}

func quoteList(items []string) string {
\treturn fmt.Sprintf("%q", items)
}

var startedAt = time.Now()
"""

NOUNS = [
    "order", "customer", "product", "invoice", "payment", "shipment", "refund", "coupon",
    "warehouse", "supplier", "review", "address", "cart", "subscription", "return", "voucher",
    "carrier", "parcel", "basket", "discount", "category", "vendor", "ledger", "receipt",
]
WORKERS = ["Syncer", "Refresher", "Archiver", "Importer", "Exporter", "Auditor", "Reconciler"]
FIELDS = [
    ("Name", "string", "name"), ("Email", "string", "email"), ("Status", "string", "status"),
    ("Cents", "int64", "cents"), ("Quantity", "int", "quantity"), ("Country", "string", "country"),
    ("Note", "string", "note"), ("Weight", "float64", "weight"), ("Active", "bool", "active"),
    ("SKU", "string", "sku"), ("Currency", "string", "currency"), ("Priority", "int", "priority"),
]
NON_ASCII = [
    "café crème", "naïve résumé", "Größe → size", "日本語の注文", "emoji ✅ ok", "tschüß → ∞", "smörgåsbord 🥪",
]


def camel(noun: str) -> str:
    return noun[:1].upper() + noun[1:]


class Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.used: set[str] = set()
        self.types: list[str] = []
        self.leaks = 0

    def name(self, base: str) -> str:
        """A unique Go identifier starting with ``base``."""
        if base not in self.used:
            self.used.add(base)
            return base
        n = 2
        while f"{base}{n}" in self.used:
            n += 1
        self.used.add(f"{base}{n}")
        return f"{base}{n}"

    def pick_fields(self) -> list[tuple[str, str, str]]:
        return self.rng.sample(FIELDS, self.rng.randint(3, 6))

    def text(self) -> str:
        return self.rng.choice(NON_ASCII) if self.rng.random() < 0.15 else "ok"

    # ----------------------------------------------------------------- pieces

    def model(self, noun: str) -> tuple[str, str, list[tuple[str, str, str]]]:
        typ = self.name(camel(noun))
        self.types.append(typ)
        fields = self.pick_fields()
        rows = [("ID", "int64", "id"), *fields, ("CreatedAt", "time.Time", "created_at")]
        name_w = max(len(f) for f, _, _ in rows)
        type_w = max(len(t) for _, t, _ in rows)
        lines = [f"// {typ} is one {noun} row.", f"type {typ} struct {{"]
        lines += [f'\t{f:<{name_w}} {t:<{type_w}} `json:"{j}"`' for f, t, j in rows]
        lines.append("}")
        validate = self.name(f"validate{typ}")
        checks = []
        for f, t, _ in fields:
            if t == "string":
                checks += [f"\tif strings.TrimSpace(v.{f}) == \"\" {{", f'\t\treturn fmt.Errorf("{f}: %w", ErrValidation)', "\t}"]
            elif t in ("int", "int64"):
                checks += [f"\tif v.{f} < 0 {{", f'\t\treturn fmt.Errorf("{f} is negative: %w", ErrValidation)', "\t}"]
        lines += ["", f"func {validate}(v *{typ}) error {{", *checks, "\treturn nil", "}"]
        return "\n".join(lines), typ, fields

    def cols(self, fields: list[tuple[str, str, str]]) -> tuple[str, str]:
        cols = ", ".join(["id", *[j for _, _, j in fields], "created_at"])
        scan = ", ".join(["&v.ID", *[f"&v.{f}" for f, _, _ in fields], "&v.CreatedAt"])
        return cols, scan

    def store_list(self, noun: str, typ: str, fields: list[tuple[str, str, str]], leak: bool) -> str:
        fn = self.name(f"List{typ}s")
        cols, scan = self.cols(fields)
        body = [
            f"// {fn} lists {noun}s page by page.",
            f"func (s *Service) {fn}(ctx context.Context, offset, limit int) ([]{typ}, error) {{",
            f'\trows, err := s.db.QueryContext(ctx, "SELECT {cols} FROM {noun}s ORDER BY id OFFSET $1 LIMIT $2", offset, limit)',
            "\tif err != nil {",
            "\t\treturn nil, err",
            "\t}",
        ]
        if not leak:
            body.append("\tdefer rows.Close()")
        body += [
            f"\tout := make([]{typ}, 0, limit)",
            "\tfor rows.Next() {",
            f"\t\tvar v {typ}",
            f"\t\tif err := rows.Scan({scan}); err != nil {{",
            "\t\t\treturn nil, err",
            "\t\t}",
            "\t\tout = append(out, v)",
            "\t}",
        ]
        if leak:
            body.append("\trows.Close()")
        body += ["\treturn out, rows.Err()", "}"]
        return "\n".join(body)

    def store_get(self, noun: str, typ: str, fields: list[tuple[str, str, str]]) -> str:
        fn = self.name(f"Get{typ}")
        cols, scan = self.cols(fields)
        return "\n".join([
            f"// {fn} loads one {noun} by id.",
            f"func (s *Service) {fn}(ctx context.Context, id int64) ({typ}, error) {{",
            f"\tvar v {typ}",
            f'\terr := s.db.QueryRowContext(ctx, "SELECT {cols} FROM {noun}s WHERE id = $1", id).Scan({scan})',
            "\tif errors.Is(err, sql.ErrNoRows) {",
            "\t\treturn v, ErrNotFound",
            "\t}",
            "\treturn v, err",
            "}",
        ])

    def store_tx(self, noun: str, typ: str, fields: list[tuple[str, str, str]], leak: bool) -> str:
        fn = self.name(f"Save{typ}")
        names = [j for _, _, j in fields]
        values = ", ".join(f"v.{f}" for f, _, _ in fields)
        marks = ", ".join(f"${i + 1}" for i in range(len(fields)))
        body = [
            f"// {fn} inserts a {noun} and its audit row in one transaction.",
            f"func (s *Service) {fn}(ctx context.Context, v *{typ}) error {{",
            "\ttx, err := s.db.BeginTx(ctx, nil)",
            "\tif err != nil {",
            "\t\treturn err",
            "\t}",
        ]
        if not leak:
            body.append("\tdefer tx.Rollback()")
        body += [
            f'\terr = tx.QueryRowContext(ctx, "INSERT INTO {noun}s ({", ".join(names)}) VALUES ({marks}) RETURNING id, created_at", {values}).Scan(&v.ID, &v.CreatedAt)',
            "\tif err != nil {",
            "\t\treturn err",
            "\t}",
            f'\tif _, err := tx.ExecContext(ctx, "INSERT INTO audit (entity, entity_id) VALUES ($1, $2)", "{noun}", v.ID); err != nil {{',
            "\t\treturn err",
            "\t}",
            "\treturn tx.Commit()",
            "}",
        ]
        return "\n".join(body)

    def handler_get(self, noun: str, typ: str, getter: str, leak: bool) -> str:
        fn = self.name(f"handleGet{typ}")
        body = [
            f"// {fn} serves GET /{noun}s/{{id}}.",
            f"func (s *Service) {fn}(w http.ResponseWriter, r *http.Request) {{",
            f'\tid, err := pathID(r, "/{noun}s/")',
            "\tif err != nil {",
            '\t\thttp.Error(w, "bad id", http.StatusBadRequest)',
            "\t\treturn",
            "\t}",
            f"\tctx, cancel := context.WithTimeout(r.Context(), {self.rng.choice([1, 2, 3, 5])}*time.Second)",
        ]
        if not leak:
            body.append("\tdefer cancel()")
        body += [
            f"\tv, err := s.{getter}(ctx, id)",
            "\tif errors.Is(err, ErrNotFound) {",
            f'\t\thttp.Error(w, "{noun} not found", http.StatusNotFound)',
            "\t\treturn",
            "\t}",
            "\tif err != nil {",
            f'\t\ts.log.Printf("get {noun} %d: %v", id, err)',
            '\t\thttp.Error(w, "internal error", http.StatusInternalServerError)',
            "\t\treturn",
            "\t}",
        ]
        if leak:
            body.append("\tcancel()")
        body += ["\twriteJSON(w, http.StatusOK, v)", "}"]
        return "\n".join(body)

    def handler_list(self, noun: str, typ: str, lister: str) -> str:
        fn = self.name(f"handleList{typ}s")
        return "\n".join([
            f"// {fn} serves GET /{noun}s?offset=&limit=.",
            f"func (s *Service) {fn}(w http.ResponseWriter, r *http.Request) {{",
            '\toffset, _ := strconv.Atoi(r.URL.Query().Get("offset"))',
            '\tlimit, err := strconv.Atoi(r.URL.Query().Get("limit"))',
            "\tif err != nil || limit <= 0 || limit > 500 {",
            "\t\tlimit = 50",
            "\t}",
            "\tctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)",
            "\tdefer cancel()",
            f"\titems, err := s.{lister}(ctx, offset, limit)",
            "\tif err != nil {",
            f'\t\ts.log.Printf("list {noun}s: %v", err)',
            '\t\thttp.Error(w, "internal error", http.StatusInternalServerError)',
            "\t\treturn",
            "\t}",
            f'\twriteJSON(w, http.StatusOK, map[string]any{{"{noun}s": items, "offset": offset}})',
            "}",
        ])

    def handler_create(self, noun: str, typ: str, saver: str, validate: str) -> str:
        fn = self.name(f"handleCreate{typ}")
        return "\n".join([
            f"// {fn} serves POST /{noun}s.",
            f"func (s *Service) {fn}(w http.ResponseWriter, r *http.Request) {{",
            f"\tvar v {typ}",
            "\tif err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&v); err != nil {",
            '\t\thttp.Error(w, "bad request body", http.StatusBadRequest)',
            "\t\treturn",
            "\t}",
            f"\tif err := {validate}(&v); err != nil {{",
            "\t\thttp.Error(w, err.Error(), http.StatusUnprocessableEntity)",
            "\t\treturn",
            "\t}",
            f"\tif err := s.{saver}(r.Context(), &v); err != nil {{",
            f'\t\ts.log.Printf("create {noun}: %v", err)',
            '\t\thttp.Error(w, "internal error", http.StatusInternalServerError)',
            "\t\treturn",
            "\t}",
            "\twriteJSON(w, http.StatusCreated, v)",
            "}",
        ])

    def client_call(self, noun: str, typ: str, leak: bool) -> str:
        fn = self.name(f"fetchRemote{typ}")
        body = [
            f"// {fn} asks the partner API for a {noun} ({self.text()}).",
            f"func (s *Service) {fn}(ctx context.Context, id int64) ({typ}, error) {{",
            f"\tvar v {typ}",
            f'\treq, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/{noun}s/"+strconv.FormatInt(id, 10), nil)',
            "\tif err != nil {",
            "\t\treturn v, err",
            "\t}",
            "\tresp, err := s.client.Do(req)",
            "\tif err != nil {",
            "\t\treturn v, err",
            "\t}",
        ]
        if not leak:
            body.append("\tdefer resp.Body.Close()")
        body += [
            "\tif resp.StatusCode != http.StatusOK {",
            f'\t\treturn v, fmt.Errorf("partner {noun} %d: %s", id, resp.Status)',
            "\t}",
            "\terr = json.NewDecoder(resp.Body).Decode(&v)",
            "\treturn v, err",
            "}",
        ]
        return "\n".join(body)

    def worker(self, noun: str, typ: str, lister: str, leak: bool) -> str:
        fn = self.name(f"run{typ}{self.rng.choice(WORKERS)}")
        every = self.rng.choice(["30 * time.Second", "time.Minute", "5 * time.Minute", "10 * time.Minute"])
        if leak:
            return "\n".join([
                f"// {fn} refreshes {noun}s whenever a signal arrives.",
                f"func (s *Service) {fn}(ctx context.Context, signals <-chan struct{{}}) {{",
                "\tfor {",
                "\t\tselect {",
                "\t\tcase <-ctx.Done():",
                "\t\t\treturn",
                "\t\tcase <-signals:",
                f"\t\t\tif _, err := s.{lister}(ctx, 0, 100); err != nil {{",
                f'\t\t\t\ts.log.Printf("{noun} refresh: %v", err)',
                "\t\t\t}",
                f"\t\tcase <-time.After({every}):",
                f'\t\t\ts.log.Printf("{noun} refresher idle")',
                "\t\t}",
                "\t}",
                "}",
            ])
        return "\n".join([
            f"// {fn} refreshes {noun}s on a schedule until ctx is cancelled.",
            f"func (s *Service) {fn}(ctx context.Context) {{",
            f"\tticker := time.NewTicker({every})",
            "\tdefer ticker.Stop()",
            "\tfor {",
            "\t\tselect {",
            "\t\tcase <-ctx.Done():",
            "\t\t\treturn",
            "\t\tcase <-ticker.C:",
            f"\t\t\titems, err := s.{lister}(ctx, 0, 100)",
            "\t\t\tif err != nil {",
            f'\t\t\t\ts.log.Printf("{noun} refresh: %v", err)',
            "\t\t\t\tcontinue",
            "\t\t\t}",
            f'\t\t\ts.log.Printf("{noun} refresh: %d rows", len(items))',
            "\t\t}",
            "\t}",
            "}",
        ])

    def handler_async(self, noun: str, typ: str, getter: str, leak: bool) -> str:
        fn = self.name(f"handleWatch{typ}")
        body = [
            f"// {fn} serves POST /{noun}s/{{id}}/watch.",
            f"func (s *Service) {fn}(w http.ResponseWriter, r *http.Request) {{",
            f'\tid, err := pathID(r, "/{noun}s/watch/")',
            "\tif err != nil {",
            '\t\thttp.Error(w, "bad id", http.StatusBadRequest)',
            "\t\treturn",
            "\t}",
        ]
        if leak:
            body += [
                "\tgo func() {",
                "\t\tfor {",
                f"\t\t\tif _, err := s.{getter}(context.Background(), id); err != nil {{",
                f'\t\t\t\ts.log.Printf("watch {noun} %d: %v", id, err)',
                "\t\t\t}",
                "\t\t\ttime.Sleep(time.Minute)",
                "\t\t}",
                "\t}()",
            ]
        else:
            body += [
                "\tresult := make(chan error, 1)",
                "\tgo func() {",
                f"\t\t_, err := s.{getter}(context.Background(), id)",
                "\t\tresult <- err",
                "\t}()",
                "\tselect {",
                "\tcase err := <-result:",
                "\t\tif err != nil {",
                '\t\t\thttp.Error(w, err.Error(), http.StatusBadGateway)',
                "\t\t\treturn",
                "\t\t}",
                "\tcase <-r.Context().Done():",
                "\t\treturn",
                "\t}",
            ]
        body += ["\tw.WriteHeader(http.StatusAccepted)", "}"]
        return "\n".join(body)

    def helper(self, noun: str, typ: str, fields: list[tuple[str, str, str]]) -> str:
        kind = self.rng.randrange(3)
        if kind == 0:
            fn = self.name(f"format{typ}")
            parts = " + \" \" + ".join(
                f"v.{f}" if t == "string" else f"fmt.Sprint(v.{f})" for f, t, _ in fields
            )
            return "\n".join([
                f"// {fn} renders a {noun} for logs: «{self.text()}».",
                f"func {fn}(v {typ}) string {{",
                f'\treturn "{noun} #" + strconv.FormatInt(v.ID, 10) + ": " + {parts}',
                "}",
            ])
        if kind == 1:
            fn = self.name(f"dedupe{typ}s")
            return "\n".join([
                f"// {fn} drops repeated ids, keeping the first of each.",
                f"func {fn}(in []{typ}) []{typ} {{",
                "\tseen := make(map[int64]bool, len(in))",
                "\tout := in[:0]",
                "\tfor _, v := range in {",
                "\t\tif seen[v.ID] {",
                "\t\t\tcontinue",
                "\t\t}",
                "\t\tseen[v.ID] = true",
                "\t\tout = append(out, v)",
                "\t}",
                "\treturn out",
                "}",
            ])
        fn = self.name(f"sum{typ}Cents")
        numeric = [f for f, t, _ in fields if t in ("int", "int64")]
        expr = " + ".join(f"int64(v.{f})" for f in numeric) or "v.ID"
        return "\n".join([
            f"// {fn} adds up the numeric fields of {noun}s.",
            f"func {fn}(items []{typ}) (total int64) {{",
            "\tfor _, v := range items {",
            f"\t\ttotal += {expr}",
            "\t}",
            "\treturn total",
            "}",
        ])

    # ------------------------------------------------------------------ whole

    def entity(self, leak_rate: float) -> list[str]:
        noun = self.rng.choice(NOUNS)
        model, typ, fields = self.model(noun)
        validate = f"validate{typ}"
        parts: list[str] = [model]

        def leak() -> bool:
            hit = self.rng.random() < leak_rate
            self.leaks += hit
            return hit

        lister = f"List{typ}s"
        getter = f"Get{typ}"
        saver = f"Save{typ}"
        builders: list[Callable[[], str]] = [
            lambda: self.store_list(noun, typ, fields, leak()),
            lambda: self.store_get(noun, typ, fields),
            lambda: self.store_tx(noun, typ, fields, leak()),
            lambda: self.handler_get(noun, typ, getter, leak()),
            lambda: self.handler_list(noun, typ, lister),
            lambda: self.handler_create(noun, typ, saver, validate),
            lambda: self.client_call(noun, typ, leak()),
            lambda: self.worker(noun, typ, lister, leak()),
            lambda: self.handler_async(noun, typ, getter, leak()),
            lambda: self.helper(noun, typ, fields),
            lambda: self.helper(noun, typ, fields),
        ]
        parts.extend(build() for build in builders)
        return parts


def generate(lines: int = 10_000, seed: int = 1, leak_rate: float = 0.08) -> tuple[str, dict[str, int]]:
    gen = Gen(seed)
    parts = [HEADER.rstrip("\n")]
    count = HEADER.count("\n")
    while count < lines:
        for part in gen.entity(leak_rate):
            parts.append(part)
            count += part.count("\n") + 2
    source = "\n\n".join(parts) + "\n"
    stats = {
        "lines": source.count("\n"),
        "bytes": len(source.encode()),
        "functions": sum(1 for line in source.splitlines() if line.startswith("func ")),
        "types": len(gen.types),
        "leaks": gen.leaks,
    }
    return source, stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", help="write here (default: standard output)")
    parser.add_argument("--lines", type=int, default=10_000, help="at least this many lines (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--leak-rate", type=float, default=0.08, help="share of leaky functions (default 0.08)")
    args = parser.parse_args(argv)
    source, stats = generate(args.lines, args.seed, args.leak_rate)
    if args.output:
        Path(args.output).write_text(source, encoding="utf-8")
        print(
            f"{args.output}: {stats['lines']} lines, {stats['bytes']} bytes, "
            f"{stats['functions']} functions, {stats['leaks']} planted leaks",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(source)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
