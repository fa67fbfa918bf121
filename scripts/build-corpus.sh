#!/bin/sh
# scripts/build-corpus.sh — the demo corpus, built offline from text Debian packages ship.
#
# usage: scripts/build-corpus.sh [--force] [OUTDIR]      (OUTDIR defaults to data/)
#
# Installs the packages it needs when missing (apt-get, as root or via sudo), extracts
# seven sources (one document per line, scripts/corpus-extract.pl), runs every one
# through `runs filter` (chat with all its rules; the others with the generic ones, see
# below), trains the BPE tokenizer on all of them and encodes one token shard per
# source. Writes, under OUTDIR:
#   corpus/<source>.txt    the filtered text (corpus/<source>.raw.txt: as extracted)
#   tokenizer.bin          the tokenizer (vocab 4096, or $VOCAB_SIZE)
#   <source>.tok           llm.c-layout token shards, <|endoftext|> after every document
#   corpus-report.txt      per-source bytes, lines (documents) and tokens; the filter's
#                          drop table for all seven sources, and what each rule dropped
#   demo-sources.json      {"data": {"tokenizer", "sources": {NAME: {path, cap, floor}}}}
# Reproducible: inputs are listed in sorted order (LC_ALL=C), each source is capped in
# bytes, and nothing records a time or a path outside OUTDIR. Idempotent: does nothing
# when every output exists and is newer than this script and its extractor (--force
# rebuilds).
set -eu
LC_ALL=C
export LC_ALL
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-$ROOT/build/runs}
EXTRACT="$ROOT/scripts/corpus-extract.pl"
VOCAB_SIZE=${VOCAB_SIZE:-4096}
force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
case "${1:-}" in -h|--help)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
OUT=${1:-data}
OUT=${OUT%/}
SOURCES="chat quotes jargon dictionary manpages changelogs headers"
KB=1024

die() { echo "build-corpus: $*" >&2; exit 1; }

# --- idempotence -------------------------------------------------------------
outputs="$OUT/tokenizer.bin $OUT/corpus-report.txt $OUT/demo-sources.json"
for s in $SOURCES; do outputs="$outputs $OUT/$s.tok"; done
if [ "$force" = 0 ]; then
    fresh=1
    for f in $outputs; do
        if [ ! -e "$f" ] || [ ! "$f" -nt "$0" ] || [ ! "$f" -nt "$EXTRACT" ]; then fresh=0; break; fi
    done
    if [ "$fresh" = 1 ]; then
        echo "build-corpus: $OUT is up to date (use --force to rebuild)"
        exit 0
    fi
fi

[ -x "$RUNS" ] || die "$RUNS not found: run \`make\` first (or set RUNS=/path/to/runs)"

# --- packages ----------------------------------------------------------------
# the packages whose man pages become chat questions are installed too, so the chat
# source is the same on every machine with the same package versions
QA_PKGS="coreutils util-linux findutils grep sed tar gzip bzip2 xz-utils dpkg apt bash diffutils
         bsdutils login passwd mount hostname ncurses-bin procps less sysvinit-utils debianutils
         bsdextrautils man-db groff-base fortune-mod perl"
need="fortunes fortunes-min jargon-text wordnet-base manpages man-db groff-base bsdextrautils libc6-dev linux-libc-dev perl $QA_PKGS"
missing=""
for p in $need; do
    # each package once (need repeats some of QA_PKGS)
    case " $missing " in *" $p "*) continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "build-corpus: installing$missing" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    DEBIAN_FRONTEND=noninteractive
    export DEBIAN_FRONTEND
    # another apt or dpkg (install-deps.sh, unattended upgrades) may hold the lock:
    # wait for it for up to 10 minutes instead of failing at once
    lock="-o DPkg::Lock::Timeout=600"
    # shellcheck disable=SC2086 # $lock is a word list
    $SUDO apt-get $lock update -qq >/dev/null || die "apt-get update failed; check the network or run as root"
    # shellcheck disable=SC2086
    $SUDO apt-get $lock install -y -qq --no-install-recommends $missing >/dev/null ||
        die "could not install$missing; install them by hand and retry"
fi

mkdir -p "$OUT/corpus"
T="$OUT/corpus"
start=$(date +%s)

# --- extraction (sorted inputs, byte caps) ----------------------------------
fortune_files=$(find /usr/share/games/fortunes -maxdepth 1 -type f ! -name '*.dat' ! -name '*.u8' | sort)
[ -n "$fortune_files" ] || die "no fortune files in /usr/share/games/fortunes"

# chat: fortunes' Q/A dialogue + man page descriptions turned into questions
# (only pages of QA_PKGS: what else is installed differs from machine to machine)
whatis="$T/whatis.list"
# shellcheck disable=SC2086
# lexgrog reads each page's NAME line itself: no dependence on the man-db index
# shellcheck disable=SC2086
for p in $QA_PKGS; do dpkg -L "$p" 2>/dev/null; done | grep -E '^/usr/share/man/man[18]/[^/]+\.gz$' |
    sort -u | xargs -r lexgrog 2>/dev/null | sort >"$whatis" || true
# shellcheck disable=SC2086
{ perl "$EXTRACT" fortune-qa $((60 * KB)) $fortune_files
  perl "$EXTRACT" whatis-qa $((440 * KB)) "$whatis"; } >"$T/chat.raw.txt"
rm -f "$whatis"

# shellcheck disable=SC2086
perl "$EXTRACT" quotes $((900 * KB)) $fortune_files >"$T/quotes.raw.txt"

jargon=/usr/share/doc/jargon-text/jargon.txt.gz
[ -e "$jargon" ] || die "$jargon is missing (package jargon-text)"
perl "$EXTRACT" jargon $((900 * KB)) "$jargon" >"$T/jargon.raw.txt"

perl "$EXTRACT" wordnet $((800 * KB)) /usr/share/wordnet/data.noun /usr/share/wordnet/data.verb \
    /usr/share/wordnet/data.adj /usr/share/wordnet/data.adv >"$T/dictionary.raw.txt"

# man pages of the `manpages` package (sections 4, 5, 7): a fixed set per package version
man_files=$(dpkg -L manpages | grep -E '^/usr/share/man/man[457]/[^/]+\.gz$' | sort)
# shellcheck disable=SC2086
perl "$EXTRACT" manpages $((800 * KB)) $man_files >"$T/manpages.raw.txt"

changelogs=$(find /usr/share/doc -mindepth 2 -maxdepth 2 -name changelog.Debian.gz | sort)
# shellcheck disable=SC2086
perl "$EXTRACT" changelogs $((600 * KB)) $changelogs >"$T/changelogs.raw.txt"

# the C library's and the kernel's user-space headers: fixed by package versions
headers=$(dpkg -L libc6-dev linux-libc-dev | grep -E '^/usr/include/.*\.h$' | sort)
# shellcheck disable=SC2086
perl "$EXTRACT" headers $((600 * KB)) $headers >"$T/headers.raw.txt"

# --- filter every source (issue 12: trust nothing unfiltered) -----------------
# chat is turns ("> user / < assistant"): every rule fits it, the shape rule
# (system-prompt-shape) included. The other six are plain documents, where that
# rule reads the whole document as a harness's user turn and fires on prose that
# only looks like a leaked prompt (a header saying "This file defines", a man
# page's headings), so they get the generic rules only (oversize-paragraph,
# foreign-script, low-bigram-diversity): each line goes in as the answer to an
# empty question ("> . / < LINE"), so the first-turn rule has nothing to read and
# the others read the document, and the wrapper comes off what is kept.
WRAP='> . / < '
for s in $SOURCES; do
    if [ "$s" = chat ]; then
        "$RUNS" filter --source "$s" --show-dropped 3 "$T/$s.raw.txt" "$T/$s.txt" >"$T/$s.filter.txt" ||
            die "runs filter failed on $T/$s.raw.txt"
        continue
    fi
    sed "s|^|$WRAP|" "$T/$s.raw.txt" >"$T/$s.wrapped.txt"
    "$RUNS" filter --source "$s" --show-dropped 3 "$T/$s.wrapped.txt" "$T/$s.kept.txt" >"$T/$s.filter.txt" ||
        die "runs filter failed on $T/$s.raw.txt"
    sed "s|^$WRAP||" "$T/$s.kept.txt" >"$T/$s.txt"
    sed -i "s|^\(  line [0-9]*: \)$WRAP|\1|" "$T/$s.filter.txt"
    rm -f "$T/$s.wrapped.txt" "$T/$s.kept.txt"
done

for s in $SOURCES; do
    [ -s "$T/$s.txt" ] || die "source $s came out empty ($T/$s.txt); are its packages installed?"
done

# --- tokenizer and shards ----------------------------------------------------
texts=""
for s in $SOURCES; do texts="$texts $T/$s.txt"; done
# shellcheck disable=SC2086
"$RUNS" tokenizer train --vocab-size "$VOCAB_SIZE" --lines --out "$OUT/tokenizer.bin" $texts >"$T/train.log" ||
    die "tokenizer training failed"
for s in $SOURCES; do
    "$RUNS" tokenizer encode --tokenizer "$OUT/tokenizer.bin" --lines --out "$OUT/$s.tok" "$T/$s.txt" \
        >"$T/$s.encode.log" || die "encoding $s failed"
done

# --- report and config fragment ------------------------------------------------
tokens_of() { od -An -t d4 -j 8 -N 4 "$1" | tr -d ' '; }
{
    echo "# demo corpus: per source, the one-document-per-line text and its shard"
    printf '%-12s %10s %8s %10s %12s\n' source bytes lines tokens bytes/token
    tb=0 tl=0 tt=0
    for s in $SOURCES; do
        b=$(wc -c <"$T/$s.txt" | tr -d ' ')
        l=$(wc -l <"$T/$s.txt" | tr -d ' ')
        t=$(tokens_of "$OUT/$s.tok")
        printf '%-12s %10d %8d %10d %12s\n' "$s" "$b" "$l" "$t" "$(awk -v b="$b" -v t="$t" 'BEGIN{printf "%.2f", b/t}')"
        tb=$((tb + b)) tl=$((tl + l)) tt=$((tt + t))
    done
    printf '%-12s %10d %8d %10d %12s\n' total "$tb" "$tl" "$tt" "$(awk -v b="$tb" -v t="$tt" 'BEGIN{printf "%.2f", b/t}')"
    echo
    echo "# tokenizer"
    sed "s|$OUT/||g" "$T/train.log" | sed 's/ in [0-9.]*s / /'
    echo
    echo "# runs filter, every source (chat: all rules; the others: the generic rules)"
    printf '%-12s %8s %8s %8s  %s\n' source in-lines kept dropped 'by rule (system-prompt-shape oversize-paragraph foreign-script low-bigram-diversity)'
    for s in $SOURCES; do
        # the filter's own table: line 2 is "NAME IN OUT PCT", then one row per rule
        awk -v s="$s" 'NR == 2 { i = $2; o = $3; p = $4 }
            $1 ~ /^(system-prompt-shape|oversize-paragraph|foreign-script|low-bigram-diversity)$/ && NF == 3 { r = r " " $2 }
            END { printf "%-12s %8d %8d %8s  %s\n", s, i, o, p, r }' "$T/$s.filter.txt"
    done
    for s in $SOURCES; do
        echo
        echo "## $s"
        cat "$T/$s.filter.txt"
    done
} >"$OUT/corpus-report.txt"

# cap = max share of steps, floor = min share (the bandit's); chat and prose lead.
{
    printf '{"data": {"tokenizer": "%s/tokenizer.bin", "sources": {\n' "$OUT"
    printf '  "chat":       {"path": "%s/chat.tok",       "cap": 0.4,  "floor": 0.2},\n' "$OUT"
    printf '  "quotes":     {"path": "%s/quotes.tok",     "cap": 0.3,  "floor": 0.1},\n' "$OUT"
    printf '  "jargon":     {"path": "%s/jargon.tok",     "cap": 0.3,  "floor": 0.1},\n' "$OUT"
    printf '  "dictionary": {"path": "%s/dictionary.tok", "cap": 0.25, "floor": 0.0},\n' "$OUT"
    printf '  "manpages":   {"path": "%s/manpages.tok",   "cap": 0.25, "floor": 0.0},\n' "$OUT"
    printf '  "changelogs": {"path": "%s/changelogs.tok", "cap": 0.2,  "floor": 0.0},\n' "$OUT"
    printf '  "headers":    {"path": "%s/headers.tok",    "cap": 0.15, "floor": 0.0}\n' "$OUT"
    printf '}}}\n'
} >"$OUT/demo-sources.json"

# the tables only: the dropped examples per source stay in the report
sed '/^## /,$d' "$OUT/corpus-report.txt"
echo "build-corpus: dropped examples per source in $OUT/corpus-report.txt"
echo "build-corpus: done in $(( $(date +%s) - start ))s -> $OUT/"
