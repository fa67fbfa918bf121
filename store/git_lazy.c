/* store/git_lazy.c — the libgit2 functions the project calls, each forwarding to
 * libgit2 loaded on first use (common/lazylib.h says why). The signatures are
 * libgit2's own: git2.h declares every one of them, so a mismatch does not compile.
 * Built only where the Makefile found libgit2's soname (RUNS_LIBGIT2_SONAME); elsewhere
 * the programs link libgit2 as usual and this file is empty.
 *
 * A function added to the project's calls of libgit2 must be added here, or the link
 * fails with an undefined reference naming it. */
#include "store/git_lazy.h"

#ifdef RUNS_LIBGIT2_SONAME

#include <git2.h>
#include <stdarg.h>

#include "common/lazylib.h"

static runs_lazylib libgit2 = RUNS_LAZYLIB_INIT(RUNS_LIBGIT2_SONAME, "libgit2, the version runs was built with");

int runs__git_load(void)
{
    return runs_lazylib_load(&libgit2);
}

/* Variadic, so it cannot be forwarded as it stands: only the options the project
 * sets are passed on, each with its own argument list (git2/common.h): the
 * GIT_OPT_ENABLE_* switches take one int, GIT_OPT_SET_CACHE_OBJECT_LIMIT a type and a
 * size. Any other option is refused (-1) rather than called with the wrong
 * arguments; a caller adding one adds its case here. */
int git_libgit2_opts(int option, ...)
{
    static int (*cached)(int, ...);
    int (*f)(int, ...) = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);
    int value = 0;
    size_t size = 0;
    va_list ap;
    va_start(ap, option);
    switch (option) {
    case GIT_OPT_ENABLE_CACHING:
    case GIT_OPT_ENABLE_STRICT_OBJECT_CREATION:
    case GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION:
    case GIT_OPT_ENABLE_FSYNC_GITDIR: value = va_arg(ap, int); break;
    case GIT_OPT_SET_CACHE_OBJECT_LIMIT:
        value = va_arg(ap, int); /* a git_object_t, promoted */
        size = va_arg(ap, size_t);
        break;
    default: va_end(ap); return -1;
    }
    va_end(ap);
    if (!f) {
        *(void **)&f = runs_lazylib_sym(&libgit2, "git_libgit2_opts");
        if (!f)
            return -1;
        __atomic_store_n(&cached, f, __ATOMIC_RELEASE);
    }
    if (option == GIT_OPT_SET_CACHE_OBJECT_LIMIT)
        return f(option, (git_object_t)value, size);
    return f(option, value);
}

/* one line per function, sorted by name, written from git2.h's declarations (the
 * compiler checks each against them) */
// clang-format off
RUNS_LAZY_FN(libgit2, int, git_blob_create_from_buffer, (git_oid *id, git_repository *repo, const void *buffer, size_t len), (id, repo, buffer, len), -1)
RUNS_LAZY_VOID(libgit2, git_blob_free, (git_blob *blob), (blob))
RUNS_LAZY_FN(libgit2, int, git_blob_lookup, (git_blob **blob, git_repository *repo, const git_oid *id), (blob, repo, id), -1)
RUNS_LAZY_FN(libgit2, const void *, git_blob_rawcontent, (const git_blob *blob), (blob), NULL)
RUNS_LAZY_FN(libgit2, git_object_size_t, git_blob_rawsize, (const git_blob *blob), (blob), 0)
RUNS_LAZY_FN(libgit2, int, git_commit_create, (git_oid *id, git_repository *repo, const char *update_ref, const git_signature *author, const git_signature *committer, const char *message_encoding, const char *message, const git_tree *tree, size_t parent_count, const git_commit *parents[]), (id, repo, update_ref, author, committer, message_encoding, message, tree, parent_count, parents), -1)
RUNS_LAZY_VOID(libgit2, git_commit_free, (git_commit *commit), (commit))
RUNS_LAZY_FN(libgit2, const git_oid *, git_commit_id, (const git_commit *commit), (commit), NULL)
RUNS_LAZY_FN(libgit2, int, git_commit_lookup, (git_commit **commit, git_repository *repo, const git_oid *id), (commit, repo, id), -1)
RUNS_LAZY_FN(libgit2, const git_oid *, git_commit_parent_id, (const git_commit *commit, unsigned int n), (commit, n), NULL)
RUNS_LAZY_FN(libgit2, unsigned int, git_commit_parentcount, (const git_commit *commit), (commit), 0)
RUNS_LAZY_FN(libgit2, git_time_t, git_commit_time, (const git_commit *commit), (commit), 0)
RUNS_LAZY_FN(libgit2, int, git_commit_tree, (git_tree **tree_out, const git_commit *commit), (tree_out, commit), -1)
RUNS_LAZY_VOID(libgit2, git_error_clear, (void), ())
RUNS_LAZY_FN(libgit2, const git_error *, git_error_last, (void), (), NULL)
RUNS_LAZY_FN(libgit2, int, git_libgit2_init, (void), (), -1)
RUNS_LAZY_FN(libgit2, int, git_note_commit_create, (git_oid *notes_commit_out, git_oid *notes_blob_out, git_repository *repo, git_commit *parent, const git_signature *author, const git_signature *committer, const git_oid *oid, const char *note, int allow_note_overwrite), (notes_commit_out, notes_blob_out, repo, parent, author, committer, oid, note, allow_note_overwrite), -1)
RUNS_LAZY_FN(libgit2, int, git_note_commit_read, (git_note **out, git_repository *repo, git_commit *notes_commit, const git_oid *oid), (out, repo, notes_commit, oid), -1)
RUNS_LAZY_FN(libgit2, int, git_note_commit_remove, (git_oid *notes_commit_out, git_repository *repo, git_commit *notes_commit, const git_signature *author, const git_signature *committer, const git_oid *oid), (notes_commit_out, repo, notes_commit, author, committer, oid), -1)
RUNS_LAZY_VOID(libgit2, git_note_free, (git_note *note), (note))
RUNS_LAZY_VOID(libgit2, git_note_iterator_free, (git_note_iterator *it), (it))
RUNS_LAZY_FN(libgit2, int, git_note_iterator_new, (git_note_iterator **out, git_repository *repo, const char *notes_ref), (out, repo, notes_ref), -1)
RUNS_LAZY_FN(libgit2, const char *, git_note_message, (const git_note *note), (note), NULL)
RUNS_LAZY_FN(libgit2, int, git_note_next, (git_oid *note_id, git_oid *annotated_id, git_note_iterator *it), (note_id, annotated_id, it), -1)
RUNS_LAZY_FN(libgit2, int, git_note_read, (git_note **out, git_repository *repo, const char *notes_ref, const git_oid *oid), (out, repo, notes_ref, oid), -1)
RUNS_LAZY_VOID(libgit2, git_object_free, (git_object *object), (object))
RUNS_LAZY_FN(libgit2, const git_oid *, git_object_id, (const git_object *obj), (obj), NULL)
RUNS_LAZY_FN(libgit2, int, git_object_lookup, (git_object **object, git_repository *repo, const git_oid *id, git_object_t type), (object, repo, id, type), -1)
RUNS_LAZY_FN(libgit2, int, git_object_lookup_prefix, (git_object **object_out, git_repository *repo, const git_oid *id, size_t len, git_object_t type), (object_out, repo, id, len, type), -1)
RUNS_LAZY_FN(libgit2, int, git_object_peel, (git_object **peeled, const git_object *object, git_object_t target_type), (peeled, object, target_type), -1)
RUNS_LAZY_FN(libgit2, int, git_odb_foreach, (git_odb *db, git_odb_foreach_cb cb, void *payload), (db, cb, payload), -1)
RUNS_LAZY_VOID(libgit2, git_odb_free, (git_odb *db), (db))
RUNS_LAZY_VOID(libgit2, git_odb_object_free, (git_odb_object *object), (object))
RUNS_LAZY_FN(libgit2, int, git_odb_read, (git_odb_object **out, git_odb *db, const git_oid *id), (out, db, id), -1)
RUNS_LAZY_FN(libgit2, int, git_oid_equal, (const git_oid *a, const git_oid *b), (a, b), 0)
RUNS_LAZY_FN(libgit2, int, git_oid_fromstr, (git_oid *out, const char *str), (out, str), -1)
RUNS_LAZY_FN(libgit2, int, git_oid_fromstrn, (git_oid *out, const char *str, size_t length), (out, str, length), -1)
RUNS_LAZY_FN(libgit2, char *, git_oid_tostr, (char *out, size_t n, const git_oid *id), (out, n, id), NULL)
RUNS_LAZY_FN(libgit2, int, git_reference_create, (git_reference **out, git_repository *repo, const char *name, const git_oid *id, int force, const char *log_message), (out, repo, name, id, force, log_message), -1)
RUNS_LAZY_FN(libgit2, int, git_reference_create_matching, (git_reference **out, git_repository *repo, const char *name, const git_oid *id, int force, const git_oid *current_id, const char *log_message), (out, repo, name, id, force, current_id, log_message), -1)
RUNS_LAZY_VOID(libgit2, git_reference_free, (git_reference *ref), (ref))
RUNS_LAZY_VOID(libgit2, git_reference_iterator_free, (git_reference_iterator *iter), (iter))
RUNS_LAZY_FN(libgit2, int, git_reference_iterator_glob_new, (git_reference_iterator **out, git_repository *repo, const char *glob), (out, repo, glob), -1)
RUNS_LAZY_FN(libgit2, int, git_reference_iterator_new, (git_reference_iterator **out, git_repository *repo), (out, repo), -1)
RUNS_LAZY_FN(libgit2, int, git_reference_lookup, (git_reference **out, git_repository *repo, const char *name), (out, repo, name), -1)
RUNS_LAZY_FN(libgit2, const char *, git_reference_name, (const git_reference *ref), (ref), NULL)
RUNS_LAZY_FN(libgit2, int, git_reference_name_to_id, (git_oid *out, git_repository *repo, const char *name), (out, repo, name), -1)
RUNS_LAZY_FN(libgit2, int, git_reference_next, (git_reference **out, git_reference_iterator *iter), (out, iter), -1)
RUNS_LAZY_FN(libgit2, int, git_reference_peel, (git_object **out, const git_reference *ref, git_object_t type), (out, ref, type), -1)
RUNS_LAZY_FN(libgit2, const char *, git_reference_symbolic_target, (const git_reference *ref), (ref), NULL)
RUNS_LAZY_FN(libgit2, const git_oid *, git_reference_target, (const git_reference *ref), (ref), NULL)
RUNS_LAZY_VOID(libgit2, git_repository_free, (git_repository *repo), (repo))
RUNS_LAZY_FN(libgit2, int, git_repository_init_ext, (git_repository **out, const char *repo_path, git_repository_init_options *opts), (out, repo_path, opts), -1)
RUNS_LAZY_FN(libgit2, int, git_repository_init_options_init, (git_repository_init_options *opts, unsigned int version), (opts, version), -1)
RUNS_LAZY_FN(libgit2, int, git_repository_odb, (git_odb **out, git_repository *repo), (out, repo), -1)
RUNS_LAZY_FN(libgit2, int, git_repository_open_bare, (git_repository **out, const char *bare_path), (out, bare_path), -1)
RUNS_LAZY_VOID(libgit2, git_revwalk_free, (git_revwalk *walk), (walk))
RUNS_LAZY_FN(libgit2, int, git_revwalk_hide_glob, (git_revwalk *walk, const char *glob), (walk, glob), -1)
RUNS_LAZY_FN(libgit2, int, git_revwalk_new, (git_revwalk **out, git_repository *repo), (out, repo), -1)
RUNS_LAZY_FN(libgit2, int, git_revwalk_next, (git_oid *out, git_revwalk *walk), (out, walk), -1)
RUNS_LAZY_FN(libgit2, int, git_revwalk_push, (git_revwalk *walk, const git_oid *id), (walk, id), -1)
RUNS_LAZY_FN(libgit2, int, git_revwalk_push_glob, (git_revwalk *walk, const char *glob), (walk, glob), -1)
RUNS_LAZY_FN(libgit2, int, git_revwalk_sorting, (git_revwalk *walk, unsigned int sort_mode), (walk, sort_mode), -1)
RUNS_LAZY_VOID(libgit2, git_signature_free, (git_signature *sig), (sig))
RUNS_LAZY_FN(libgit2, int, git_signature_now, (git_signature **out, const char *name, const char *email), (out, name, email), -1)
RUNS_LAZY_FN(libgit2, const git_tree_entry *, git_tree_entry_byname, (const git_tree *tree, const char *filename), (tree, filename), NULL)
RUNS_LAZY_FN(libgit2, const git_oid *, git_tree_entry_id, (const git_tree_entry *entry), (entry), NULL)
RUNS_LAZY_VOID(libgit2, git_tree_free, (git_tree *tree), (tree))
RUNS_LAZY_FN(libgit2, int, git_tree_lookup, (git_tree **out, git_repository *repo, const git_oid *id), (out, repo, id), -1)
RUNS_LAZY_VOID(libgit2, git_treebuilder_free, (git_treebuilder *bld), (bld))
RUNS_LAZY_FN(libgit2, int, git_treebuilder_insert, (const git_tree_entry **out, git_treebuilder *bld, const char *filename, const git_oid *id, git_filemode_t filemode), (out, bld, filename, id, filemode), -1)
RUNS_LAZY_FN(libgit2, int, git_treebuilder_new, (git_treebuilder **out, git_repository *repo, const git_tree *source), (out, repo, source), -1)
RUNS_LAZY_FN(libgit2, int, git_treebuilder_write, (git_oid *id, git_treebuilder *bld), (id, bld), -1)
// clang-format on

#else

int runs__git_load(void)
{
    return 0; /* linked at build time: loaded before main() */
}

#endif
