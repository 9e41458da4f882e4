/* The BLAS core the lamina command runs on: corrected where OpenBLAS's own
 * detection is known to be wrong for this CPU, kept (and remarked on) where
 * the user chose it. */
#define _POSIX_C_SOURCE 200809L
#include "cli/cli.h"
#include "lamina.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* OpenBLAS chooses its kernels when it loads, from OPENBLAS_CORETYPE or its
 * own CPU detection; where lamina knows the detection to be wrong for this
 * CPU (lam_blas_core_advice), it runs itself again with the variable set.
 * A variable the user set is left alone; if the re-execution fails, lamina
 * goes on with the detected core. */
void cli_blas_core_fix(char **argv) {
    if (getenv("OPENBLAS_CORETYPE")) return;
    const char *advice = lam_blas_core_advice();
    if (!advice) return;
    /* exec the file itself (not /proc/self/exe, which would rename the
     * process "exe" in ps and top) */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || (size_t)n >= sizeof self - 1) return;
    self[n] = 0;
    if (setenv("OPENBLAS_CORETYPE", advice, 1) != 0) return;
    execv(self, argv);
    unsetenv("OPENBLAS_CORETYPE");
}

const char *cli_blas_core_note(void) {
    static char note[256];
    const char *set = getenv("OPENBLAS_CORETYPE");
    const char *advice = lam_blas_core_advice();
    if (!set || !advice) return NULL;
    snprintf(note, sizeof note,
             "note: OPENBLAS_CORETYPE=%.32s is set; on this CPU lamina would run OpenBLAS's %s kernels "
             "(unset it to let lamina choose)",
             set, advice);
    return note;
}

void cli_print_blas_core_note(FILE *f) {
    const char *note = cli_blas_core_note();
    if (note) fprintf(f, "%s\n", note);
}
