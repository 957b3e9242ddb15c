/*
 * edgeport's QEMU TCG plugin: guest instructions executed, split at markers the guest sets.
 *
 * Built on demand by edgeport/arm/counting.py against the qemu-plugin.h of the installed QEMU's own source
 * (the plugin API is versioned per release). Loaded as
 *     qemu-aarch64 -plugin insn_count.so,out=FILE ...
 *
 * Counting: every translated block adds its instruction count to one counter when it executes (an inline add,
 * no helper call: the cheapest way QEMU 7.2 offers). The add is not atomic, so a count is exact for a guest that
 * computes on one thread (edgeport runs the guest's runtime with one thread) and approximate otherwise.
 *
 * Markers: the guest calls lseek(-1, MARK_BASE + code, SEEK_SET). It fails with EBADF (nothing happens in the
 * guest) but this plugin sees the syscall and its arguments first, and writes "code count" as one line to FILE,
 * flushed, so the host can read the count of each call right after the guest answers it. Codes are the guest's
 * (edgeport/arm/guest.py); 255 is written at exit with the process's total.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define LSEEK_AARCH64 62                     /* the generic syscall table's lseek, which aarch64 uses */
#define MARK_BASE UINT64_C(0x65646765706f7200) /* "edgepor\0": no real file offset a program seeks to */
#define MARK_CODES 256

static uint64_t insns;
static FILE *out;

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &insns, qemu_plugin_tb_n_insns(tb));
}

static void on_syscall(qemu_plugin_id_t id, unsigned int vcpu, int64_t num, uint64_t a1, uint64_t a2,
                       uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8)
{
    if (num == LSEEK_AARCH64 && a2 >= MARK_BASE && a2 < MARK_BASE + MARK_CODES) {
        fprintf(out, "%" PRIu64 " %" PRIu64 "\n", a2 - MARK_BASE, insns);
        fflush(out);
    }
}

static void at_exit(qemu_plugin_id_t id, void *p)
{
    fprintf(out, "255 %" PRIu64 "\n", insns);
    fclose(out);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    out = stderr;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) {
            out = fopen(argv[i] + 4, "w");
            if (!out) {
                perror(argv[i] + 4);
                return -1;
            }
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
