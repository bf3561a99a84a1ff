/*
 * ckptdir.h: the checkpoint directory format.
 *
 * A checkpoint is one directory, written whole or not at all:
 *
 *   DIR/xckpt.meta     metadata (GKeyFile, group [checkpoint]), versioned
 *   DIR/MANIFEST       one line per file: "CHECKSUM SIZE PATH", sorted by
 *                      PATH; its own last line is "end N" (N = the number
 *                      of files).  The checksum is the format's (ckptsum.h):
 *                      CRC-32 in format 1, segmented XXH3-128 from format 2
 *   DIR/images/        CRIU's images
 *   DIR/...            anything else the writer adds (logs, thumbnails)
 *
 * It is built in a hidden sibling directory (PARENT/.NAME.tmp-XXXXXX), every
 * file summed and synced to disk, then renamed into place and the parent
 * fsync'd: an interrupted or failed checkpoint leaves the previous ones
 * untouched and no half directory behind (a stale .tmp is removed by the
 * next writer).  A writer may skip the syncs (ckptdir_set_durable()).
 * Directories are 0700 and files 0600: images hold process memory.
 *
 * A reader verifies a directory before anything uses it: owner, format
 * version, and every file's size and checksum against the manifest.
 */
#pragma once

#include <glib.h>

/* Errors of this module (codes: CkptdirError). */
#define CKPTDIR_ERROR (ckptdir_error_quark())
GQuark ckptdir_error_quark(void);

/* What went wrong. */
typedef enum {
	CKPTDIR_ERROR_IO,	/* a system call failed */
	CKPTDIR_ERROR_EXISTS,	/* the target directory exists */
	CKPTDIR_ERROR_CORRUPT,	/* missing, truncated or altered */
	CKPTDIR_ERROR_VERSION,	/* written by a newer format */
	CKPTDIR_ERROR_OWNER,	/* another user's, or open to others */
} CkptdirError;

/* The format this build writes, and the newest it reads (it reads every
 * older one: format 1 differs only in its manifest's checksums). */
#define CKPTDIR_FORMAT_VERSION 2

/* The metadata of one checkpoint. */
typedef struct {
	int format;		/* format version (CKPTDIR_FORMAT_VERSION) */
	char *session;		/* session name */
	char **argv;		/* the app's command line (NULL-terminated) */
	char *cwd;		/* the app's working directory */
	char **env;		/* the app's environment (NULL-terminated) */
	gint64 time;		/* when it was taken, seconds since the epoch */
	char *xckpt_version;	/* the xckpt version that wrote it */
	char *criu_version;	/* `criu --version` of the CRIU that dumped */
	char *kernel;		/* uname -r of the machine it was taken on */
	char *display;		/* the proxy's display, or NULL (no X) */
	char *upstream;		/* the X display the proxy talked to, or NULL */
	GKeyFile *extra;	/* other groups later issues add (X state,
				 * terminals); may be NULL */
} CkptMeta;

/* A checkpoint directory being written (opaque). */
typedef struct CkptWriter CkptWriter;

/* Frees META and everything it holds; NULL is fine. */
void ckptdir_meta_free(CkptMeta *meta);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkptMeta, ckptdir_meta_free)

/* Starts writing a checkpoint that will become PARENT/NAME: creates PARENT
 * (0700) when missing and a temporary sibling directory with an images/
 * subdirectory.  Returns a writer the caller ends with ckptdir_commit() or
 * ckptdir_abort(), or NULL with ERROR set.  PARENT/NAME must not exist. */
CkptWriter *ckptdir_begin(const char *parent, const char *name,
			  GError **error);

/* The temporary directory being written (owned by WRITER). */
const char *ckptdir_path(CkptWriter *writer);

/* The images/ directory inside it, where CRIU writes (owned by WRITER). */
const char *ckptdir_images(CkptWriter *writer);

/* Makes WRITER's commit durable (DURABLE TRUE, the default) or not.
 * Durable, the follower starts the writeback of what it has summed and the
 * commit returns only once every file, and the rename, are on the disk
 * (syncfs, then an fsync of PARENT).
 *
 * Not durable (checkpoint --no-sync) is what criu dump and cp do: the
 * kernel writes the files out within its dirty expiry (30 s by default)
 * and the commit does not wait.  Waiting costs the time to write the whole
 * image (~60 ms per 200 MB on this project's machines, half the dump), and
 * its writeback competing with CRIU slows the dump itself.  What keeps
 * that safe: a checkpoint that a crash or a power cut catches before it
 * reached the disk is torn (files empty or short), and the manifest check
 * before any restart refuses it with a one-line error; the ones before
 * it, on the disk by then, are untouched.  Call before ckptdir_follow(). */
void ckptdir_set_durable(CkptWriter *writer, gboolean durable);

/* Starts summing the page images CRIU writes into WRITER's images/ as
 * they grow, on a thread of its own (and, when durable, pushing them
 * toward the disk without waiting), so that the commit finds little left
 * to read or to sync.  The thread ends at commit or abort.
 *
 * Why this is sound: CRIU writes a pages-N.img from start to end, each
 * byte once (splice from the dumped process, appended), and no one else
 * writes there; what has been summed is final.  Should that not hold, the
 * commit notices (the file shrank, or was replaced) and sums it again,
 * whole.  The other images are small and summed at commit. */
void ckptdir_follow(CkptWriter *writer);

/* Writes META and the manifest, makes every file 0600 and directory 0700,
 * and renames the directory into place; when durable, all of it is on the
 * disk before the rename, and the rename after it (ckptdir_set_durable()).
 * Frees WRITER in every case; on failure the temporary directory is
 * removed.  Returns the final path (caller frees) or NULL with ERROR set. */
char *ckptdir_commit(CkptWriter *writer, const CkptMeta *meta,
		     GError **error);

/* Removes the temporary directory and frees WRITER; NULL is fine. */
void ckptdir_abort(CkptWriter *writer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkptWriter, ckptdir_abort)

/* Reads DIR's metadata without checking the images (for listings).
 * Returns it (caller frees with ckptdir_meta_free) or NULL with ERROR. */
CkptMeta *ckptdir_read_meta(const char *dir, GError **error);

/* Verifies DIR: it belongs to the caller's user and is not open to others,
 * its format is not newer than this build's, and every file matches the
 * manifest (size and checksum, read on every core), with no file missing.  Returns the metadata
 * (caller frees) or NULL with a one-line ERROR naming the problem. */
CkptMeta *ckptdir_verify(const char *dir, GError **error);

/* A verification under way: the page images of a checkpoint, still to be
 * summed (opaque). */
typedef struct CkptVerify CkptVerify;

/* Begins verifying DIR: everything ckptdir_verify() checks, except the
 * contents of the page images (images/pages-*.img), whose sizes only are
 * checked here.  What CRIU parses (its other images, the metadata) is
 * thus verified, and what is left is the bytes CRIU copies into the
 * restored memory, which a restart sums beside CRIU's restore and checks
 * before any restored process runs (cmd-restart.c).  Returns the metadata
 * (caller frees) and the rest of the work in *PENDING (caller finishes it
 * with ckptdir_verify_finish() and frees it), or NULL with a one-line
 * ERROR (and *PENDING NULL). */
CkptMeta *ckptdir_verify_begin(const char *dir, CkptVerify **pending,
			       GError **error);

/* Starts summing V's page images on THREADS threads of the calling
 * process. */
void ckptdir_verify_start(CkptVerify *v, guint threads);

/* Waits for V's page images to be summed (sums them now when not
 * started).  Returns TRUE when every one matches the manifest, else FALSE
 * with a one-line ERROR; the same answer every time. */
gboolean ckptdir_verify_finish(CkptVerify *v, GError **error);

/* Frees V (waiting for its thread, if any); NULL is fine. */
void ckptdir_verify_free(CkptVerify *v);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkptVerify, ckptdir_verify_free)

/* The total size in bytes of the files DIR's manifest lists, or -1. */
gint64 ckptdir_size(const char *dir);

/* Removes the stale temporary directories an interrupted writer left in
 * PARENT (only those whose writer process is gone). */
void ckptdir_sweep(const char *parent);
