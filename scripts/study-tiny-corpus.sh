# scripts/study-tiny-corpus.sh — sourced by the study scripts for their --quick mode.
# study_tiny_corpus DIR VOCAB: writes DIR/prose.txt and DIR/chat.txt (the seeded word
# salad and "> q? / < a." lines the CLI tests use), trains DIR/tok.bin with VOCAB tokens
# on both and encodes each into DIR/prose.tok and DIR/chat.tok. Needs $RUNS.
study_tiny_corpus() {
    mkdir -p "$1"
    awk 'BEGIN { srand(1); split("the cat sat on a mat while dogs ran over hills and rivers", w, " ");
                 for (i = 0; i < 400; i++) { s = ""; for (j = 0; j < 12; j++) s = s w[int(rand() * 14) + 1] " "; print s "." } }' >"$1/prose.txt"
    awk 'BEGIN { srand(2); split("what is why how does it work because you can see that", w, " ");
                 for (i = 0; i < 400; i++) { q = ""; a = ""; for (j = 0; j < 6; j++) { q = q w[int(rand() * 12) + 1] " "; a = a w[int(rand() * 12) + 1] " " }
                 print "> " q "? / < " a "." } }' >"$1/chat.txt"
    "$RUNS" tokenizer train --vocab-size "$2" --out "$1/tok.bin" "$1/prose.txt" "$1/chat.txt" >/dev/null
    for s in prose chat; do "$RUNS" tokenizer encode --tokenizer "$1/tok.bin" --out "$1/$s.tok" "$1/$s.txt" >/dev/null; done
}
