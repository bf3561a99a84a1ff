/*
 * ckptsum.h: the checksums of a checkpoint's files, as its MANIFEST holds
 * them (ckptdir.h).
 *
 * Format 1 manifests hold zlib's CRC-32 of each file (8 hex digits).
 * Format 2 manifests hold 32 hex digits: XXH3-128 (libxxhash) over the
 * XXH3-128 digests (canonical, big-endian) of the file's segments, the
 * pieces of CKPTSUM_SEGMENT bytes it is cut into (the last one shorter; an
 * empty file has none).
 *
 * Why XXH3: the manifest is there to catch truncated, damaged or
 * half-copied images before CRIU sees them, not a deliberate change (whoever
 * can rewrite an image can rewrite the manifest too; ownership and modes
 * guard against that).  XXH3 does that at memory speed: 200 MB read out of
 * the page cache and summed in ~10 ms on one core here (the copy is most
 * of it), against ~38 ms for zlib's CRC-32 and ~0.4 s for SHA-256.  128
 * bits rather than 64 cost nothing more.
 *
 * Why segments: a restart verifies before CRIU may read anything, so
 * verification is on the restart's critical path; segments let every core
 * sum a part of one large pages image at once.  (CRC-32 segments are joined
 * with zlib's crc32_combine(), so format 1 is verified in parallel too.)
 */
#pragma once

#include <glib.h>

/* The length of a segment, in bytes. */
#define CKPTSUM_SEGMENT (8 << 20)

/* The checksum of a manifest. */
typedef enum {
	CKPTSUM_CRC32,	/* format 1: CRC-32 of the whole file */
	CKPTSUM_XXH3,	/* format 2: XXH3-128 of the segments' XXH3-128 */
} CkptsumKind;

/* A file summed as it grows (opaque). */
typedef struct CkptsumFile CkptsumFile;

/* The checksum that the manifests of checkpoint format FORMAT hold. */
CkptsumKind ckptsum_kind(int format);

/* Opens the regular file PATH (not following a symlink) to sum it with
 * KIND from its start.  Returns the state (caller frees with
 * ckptsum_file_free()) or NULL with ERROR (G_FILE_ERROR). */
CkptsumFile *ckptsum_file_open(const char *path, CkptsumKind kind,
			       GError **error);

/* Sums what has been appended to F's file since the last call (up to its
 * end now); with WRITEBACK, starts the writeback to disk of those bytes
 * (sync_file_range, without waiting), so that a later fsync finds them
 * there.  Returns FALSE with ERROR when the file cannot be read, or has
 * shrunk below what was summed already (it was rewritten, not appended
 * to). */
gboolean ckptsum_file_advance(CkptsumFile *f, gboolean writeback,
			      GError **error);

/* Starts the writeback to disk of what has been appended to F's file
 * since the last push (whole pages, up to its size now), without summing
 * it and without waiting. */
void ckptsum_file_push(CkptsumFile *f);

/* Sums F's file up to its end (starting the writeback of what is left
 * with WRITEBACK) and returns its checksum as hex digits (caller frees)
 * and its size in *SIZE, or NULL with ERROR (the file shrank or was
 * replaced under its name).  F sums nothing more; free it. */
char *ckptsum_file_finish(CkptsumFile *f, gboolean writeback, gint64 *size,
			  GError **error);

/* How many bytes of F's file have been summed. */
gint64 ckptsum_file_offset(CkptsumFile *f);

/* Closes F's file and frees F; NULL is fine. */
void ckptsum_file_free(CkptsumFile *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkptsumFile, ckptsum_file_free)

/* Sums the N regular files PATHS with KIND, their segments spread over up
 * to THREADS threads (the caller's included).  Sets SUMS[i] (hex digits,
 * caller frees each) and SIZES[i] for every file and returns TRUE, or
 * returns FALSE with ERROR naming the first file that could not be read
 * (and SUMS all NULL). */
gboolean ckptsum_files(char *const *paths, guint n, CkptsumKind kind,
		       guint threads, char **sums, gint64 *sizes,
		       GError **error);
