#!/bin/sh
# Charts that scale: `runs plot` and `runs report` of lineages with 1, 3 and 8 runs
# (six forks at one step, a descendant of a fork), laid out by headless Chromium with
# its real fonts. In every chart the title, axis labels, marker labels and legend items
# must lie inside the chart, overlap no other, and stay off the plot area; the report's
# charts must take the page's width. The check runs in the page (getBoundingClientRect)
# and writes a JSON verdict that this script reads back from --dump-dom.
. "$(dirname "$0")/lib.sh"
SYNTH=$ROOT/tools/runs-synth-commit
if ! command -v chromium >/dev/null; then
    echo "SKIP: chromium is not installed (scripts/install-deps.sh chromium); chart layout not checked"
    echo "1..0"
    exit 0
fi

# a store with main (steps 0..50) and $2-1 other runs forked at main@step_30 (the 6th
# forks fork-experiment-1 at its step 50 instead: a descendant that must not hide it)
mkstore() {
    (mkdir -p "$1" && cd "$1" && export RUNS_STORE="$1/.runs" && "$RUNS" init >/dev/null &&
        S="$SYNTH --store .runs --tensors 1 --elems 8 --every 10" && $S --run main --count 6 >/dev/null &&
        i=1 && while [ "$i" -lt "$2" ]; do
            if [ "$i" -eq 6 ]; then
                $S --run descendant-of-fork-1 --from fork-experiment-1 --count 2 --lr 0.0009 >/dev/null
            else
                $S --run "fork-experiment-$i" --from main@step_30 --count 3 --lr "0.000$i" >/dev/null
            fi || exit 1
            i=$((i + 1))
        done)
}

# The check, run by the page on load: every chart is an <svg> holding a frame; counts
# go by the data-src of the block the chart is in (p1: `runs plot` of the 1-run store,
# r8: the report of the 8-run one, ...).
cat >check.js <<'JS'
function rect(e) { var r = e.getBoundingClientRect(); return {x0: r.left, y0: r.top, x1: r.right, y1: r.bottom}; }
function meet(a, b) { return Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0) > 0.5 && Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0) > 0.5; }
window.addEventListener('load', function () {
  var v = {problems: []};
  [].forEach.call(document.querySelectorAll('svg'), function (svg, ci) {
    /* the frame: class "frame", or the dark plot rectangle of older output */
    var fr = svg.querySelector(':scope > .frame, :scope > rect[stroke="#333333"]');
    if (!fr) return;
    var src = svg.closest('[data-src]').dataset.src, at = src + ' chart ' + ci + ': ';
    var c = v[src] = v[src] || {charts: 0, labels: 0, legend: 0, narrow: 0};
    c.charts++;
    /* the chart's area is its white background: a nested <svg>'s own box grows with
     * what overflows it, so it cannot tell what leaves the chart */
    var R = rect(svg.querySelector(':scope > rect[fill="white"]')), F = rect(fr);
    if (svg.parentElement.classList.contains('charts') && rect(svg).x1 - rect(svg).x0 < 0.98 * svg.parentElement.clientWidth) c.narrow++;
    /* text to check; the fallback finds legend entries of older output (swatch + text) */
    var els = [].slice.call(svg.querySelectorAll(':scope > .title, :scope > .axis-label, :scope > .marker-label,' +
        ':scope > .legend-item, :scope > .legend, :scope > line[stroke-width="2"] + text'));
    var it = els.map(function (e) { var b = rect(e); b.c = e.getAttribute('class') || 'legend-item'; b.t = e.textContent.trim(); return b; });
    it.forEach(function (a, i) {
      if (a.c == 'marker-label') c.labels++;
      if (a.c == 'legend-item') c.legend++;
      if (a.x0 < R.x0 - 0.5 || a.y0 < R.y0 - 0.5 || a.x1 > R.x1 + 0.5 || a.y1 > R.y1 + 0.5)
        v.problems.push(at + a.c + ' "' + a.t + '" leaves the chart');
      if (meet(a, F)) v.problems.push(at + a.c + ' "' + a.t + '" covers the plot area');
      for (var j = i + 1; j < it.length; j++) {
        var b = it[j]; /* a legend entry lies on the legend's background, by design */
        if ((a.c == 'legend' && b.c == 'legend-item') || (b.c == 'legend' && a.c == 'legend-item')) continue;
        if (meet(a, b)) v.problems.push(at + a.c + ' "' + a.t + '" overlaps ' + b.c + ' "' + b.t + '"');
      }
    });
  });
  document.getElementById('verdict').textContent = 'VERDICT ' + JSON.stringify(v) + ' END';
});
JS

# verdict PAGE: the page's JSON verdict as laid out by Chromium (a 1280px-wide window)
verdict() {
    timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --user-data-dir="$T/prof" \
        --window-size=1280,900 --dump-dom "file://$1" 2>/dev/null |
        sed -n 's/.*VERDICT \(.*\) END.*/\1/p'
}
# field VERDICT SRC KEY: one count of one block
field() { printf '%s\n' "$1" | sed -n "s/.*\"$2\":{[^}]*\"$3\":\([0-9]*\).*/\1/p"; }

# Two pages, so Chromium starts twice: the three plots inline in one, the three reports'
# bodies (with the report's style sheet) in the other.
for k in 1 3 8; do
    expect "a store with $k run(s)" mkstore "$T/s$k" "$k"
    export RUNS_STORE="$T/s$k/.runs"
    expect "plot, $k run(s)" "$RUNS" plot main --out "p$k.svg"
    expect "report, $k run(s)" "$RUNS" report main --out "r$k.html"
done
{ echo '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
  for k in 1 3 8; do echo "<div data-src=\"p$k\">"; cat "p$k.svg"; echo '</div>'; done
  echo '<pre id="verdict"></pre><script src="check.js"></script></body></html>'; } >plots.html
{ sed -n '1,/<\/head>/p' r1.html
  for k in 1 3 8; do echo "<div data-src=\"r$k\">"; sed -n '/^<body>/,/^<\/body>/p' "r$k.html" | sed '1d;$d'; echo '</div>'; done
  echo '<pre id="verdict"></pre><script src="check.js"></script></body></html>'; } >reports.html
vp=$(verdict "$T/plots.html")
vr=$(verdict "$T/reports.html")
expect_match "Chromium ran the check on the plots" "$vp" '"problems"'
expect_match "Chromium ran the check on the reports" "$vr" '"problems"'
expect_eq "no box leaves its chart, covers the data or overlaps another (plots)" \
    "$(printf '%s\n' "$vp" | sed -n 's/.*"problems":\[\([^]]*\)\].*/\1/p')" ""
expect_eq "no box leaves its chart, covers the data or overlaps another (reports)" \
    "$(printf '%s\n' "$vr" | sed -n 's/.*"problems":\[\([^]]*\)\].*/\1/p')" ""
for k in 1 3 8; do
    for src in p$k r$k; do
        v=$([ $src = p$k ] && echo "$vp" || echo "$vr")
        expect_eq "$src: three charts laid out" "$(field "$v" $src charts)" 3
        expect_eq "$src: each fork labelled in each chart" "$(field "$v" $src labels)" $((3 * (k - 1)))
        legend=$(field "$v" $src legend)
        if [ "${legend:-0}" -ge $((3 * k)) ]; then ok "$src: every run in every legend ($legend entries)"
        else not_ok "$src: ${legend:-no} legend entries for $k runs in three charts"; fi
    done
    expect_eq "r$k: the report's charts take the page's width" "$(field "$vr" r$k narrow)" 0
done

# one run, one colour: a fork's lines in main's chart and in its own have the same stroke
export RUNS_STORE="$T/s8/.runs"
expect "plot a fork" "$RUNS" plot fork-experiment-3 --out f3.svg --what lr
c_main=$(grep -o 'stroke="#[0-9a-f]*"[^>]*/><text[^>]*>[^<]*' p8.svg | grep -m1 '>fork-experiment-3 (from step 30)$' | cut -d'"' -f2)
c_own=$(grep -o 'stroke="#[0-9a-f]*"[^>]*/><text[^>]*>[^<]*' f3.svg | grep -m1 '>fork-experiment-3$' | cut -d'"' -f2)
expect_match "a run's colour is found in its legend" "$c_main" '^#[0-9a-f]{6}$'
expect_eq "the same run has the same colour in another run's chart" "$c_own" "$c_main"
expect_eq "eight runs, eight colours in one chart" \
    "$(grep -o 'class="legend-item"><line [^>]*stroke="#[0-9a-f]*"' p8.svg | sed 's/.*stroke="//' | sort -u | wc -l)" 8
done_testing
