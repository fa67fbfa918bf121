/* tools/report.h — one self-contained HTML page per lineage.
 *
 * Sections: the charts of tools/plot.h (inline SVG as wide as the page), the node table (id, kind, run,
 * step, loss, loss EMA, held-out loss = metrics.val_loss, coherence, sharpness from
 * the node's note), the config diff recorded at each fork/restart (manifest
 * "changes"), gate events (halt nodes' metrics.gate), and the sample audit (each
 * node's samples_log: step, prompt, text, coherence score; scores under the config's
 * gate.threshold are highlighted). The page uses no script,
 * no external stylesheet, font or image: it renders offline and archives as one file.
 */
#ifndef RUNS_TOOLS_REPORT_H
#define RUNS_TOOLS_REPORT_H

#include "store/store.h"
#include "tools/svg.h"

/* At most this many sample rows per run (the newest are kept); the page says so. */
#define RUNS_REPORT_MAX_SAMPLES 400

/* Appends the report of run (its lineage and sibling runs) to b as a complete HTML
 * document. RUNS_ENOTFOUND for an unknown run. */
int runs_report_html(runs_buf *b, runs_store *s, const char *run);

#endif
