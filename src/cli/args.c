/* Flag parsing shared by the commands; see args.h. */
#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Values are quoted in messages; keep the line short for absurd inputs. */
#define VAL "'%.60s%s'"
#define VALARGS(s) (s), (strlen(s) > 60 ? "..." : "")

int cli_parse_int(const char *cmd, const char *flag, const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    /* strtoll skips leading spaces and accepts '+': refuse both */
    int ok = *s && (*s == '-' || (*s >= '0' && *s <= '9')) && end != s && !*end && errno == 0;
    if (!ok || v < lo || v > hi) {
        fprintf(stderr, "lamina %s: %s expects an integer in [%lld, %lld], got " VAL "\n", cmd, flag, lo, hi,
                VALARGS(s));
        return 2;
    }
    *out = v;
    return 0;
}

int cli_parse_float(const char *cmd, const char *flag, const char *s, double lo, double hi, int lo_open, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    int ok = *s && (*s == '-' || *s == '.' || (*s >= '0' && *s <= '9')) && end != s && !*end && isfinite(v) &&
             errno != ERANGE;
    if (ok) ok = lo_open ? v > lo : v >= lo;
    if (ok) ok = v <= hi;
    if (!ok) {
        fprintf(stderr, "lamina %s: %s expects a number in %c%g, %g], got " VAL "\n", cmd, flag, lo_open ? '(' : '[',
                lo, hi, VALARGS(s));
        return 2;
    }
    *out = v;
    return 0;
}

static int set_value(const char *cmd, cli_flag *f, const char *v) {
    switch (f->kind) {
    case CLI_INT: return cli_parse_int(cmd, f->name, v, f->ilo, f->ihi, (long long *)f->dst);
    case CLI_FLOAT: return cli_parse_float(cmd, f->name, v, f->lo, f->hi, f->lo_open, (double *)f->dst);
    case CLI_STRING:
        if (!*v && !f->allow_empty) {
            fprintf(stderr, "lamina %s: %s needs a non-empty value\n", cmd, f->name);
            return 2;
        }
        *(const char **)f->dst = v;
        return 0;
    case CLI_CHOICE:
        for (int k = 0; f->choices[k]; k++)
            if (!strcmp(v, f->choices[k])) {
                *(int *)f->dst = k;
                return 0;
            }
        fprintf(stderr, "lamina %s: %s expects one of ", cmd, f->name);
        for (int k = 0; f->choices[k]; k++) fprintf(stderr, "%s%s", k ? ", " : "", f->choices[k]);
        fprintf(stderr, "; got " VAL "\n", VALARGS(v));
        return 2;
    case CLI_SWITCH: *(int *)f->dst = 1; return 0;
    }
    return 2;
}

int cli_parse(const char *cmd, cli_flag *flags, size_t nflags, int argc, char **argv, const char **pos,
              size_t max_pos, size_t *npos) {
    size_t np = 0;
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int is_flag = !only_pos && a[0] == '-' && a[1] != '\0';
        if (is_flag && !strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (!is_flag) {
            if (np >= max_pos) {
                fprintf(stderr, "lamina %s: unexpected argument " VAL " (see lamina %s --help)\n", cmd, VALARGS(a),
                        cmd);
                return 2;
            }
            pos[np++] = a;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return CLI_HELP;
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        cli_flag *f = NULL;
        for (size_t k = 0; k < nflags; k++)
            if (strlen(flags[k].name) == nlen && !strncmp(flags[k].name, a, nlen)) {
                f = &flags[k];
                break;
            }
        if (!f) {
            fprintf(stderr, "lamina %s: unknown option '%.*s' (see lamina %s --help)\n", cmd, (int)(nlen > 60 ? 60 : nlen),
                    a, cmd);
            return 2;
        }
        const char *v;
        if (f->kind == CLI_SWITCH) {
            if (eq) {
                fprintf(stderr, "lamina %s: %s takes no value\n", cmd, f->name);
                return 2;
            }
            v = "";
        } else if (eq) {
            v = eq + 1;
        } else {
            if (i + 1 >= argc) {
                fprintf(stderr, "lamina %s: %s needs a value\n", cmd, f->name);
                return 2;
            }
            v = argv[++i];
        }
        int rc = set_value(cmd, f, v);
        if (rc) return rc;
        f->seen = 1;
    }
    if (npos) *npos = np;
    return 0;
}

void cli_print_flags(FILE *f, const cli_flag *flags, size_t nflags) {
    for (size_t k = 0; k < nflags; k++) {
        const cli_flag *g = &flags[k];
        char left[64];
        if (g->kind == CLI_SWITCH) snprintf(left, sizeof left, "%s", g->name);
        else snprintf(left, sizeof left, "%s %s", g->name, g->metavar ? g->metavar : "VALUE");
        fprintf(f, "  %-22s %s\n", left, g->help ? g->help : "");
    }
}
