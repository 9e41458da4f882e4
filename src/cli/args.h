/* Flag parsing shared by the commands.
 *
 * A command describes its flags in a table and calls cli_parse.  Accepted:
 * "--flag value" and "--flag=value"; "--" ends the flags; anything not
 * starting with "-" (and "-" alone) is a positional argument.  Every mistake
 * (unknown flag, missing value, a value that is not a number, is out of range
 * or absurd, a value given to a switch) prints ONE line on stderr naming the
 * command and the flag, e.g.
 *   lamina train: --steps expects an integer in [1, 1000000000], got 'abc'
 * and cli_parse returns 2 (the exit status for a user mistake). */
#ifndef LAMINA_CLI_ARGS_H
#define LAMINA_CLI_ARGS_H

#include <stddef.h>
#include <stdio.h>

typedef enum {
    CLI_INT,      /* long long in [ilo, ihi] */
    CLI_FLOAT,    /* finite double in [lo, hi], or (lo, hi] when lo_open */
    CLI_STRING,   /* const char * (non-empty unless allow_empty) */
    CLI_CHOICE,   /* one of choices (NULL-terminated); stores the index as int */
    CLI_SWITCH    /* no value; stores 1 as int */
} cli_kind;

typedef struct cli_flag {
    const char *name;   /* with the dashes: "--steps" */
    cli_kind kind;
    void *dst;          /* long long *, double *, const char **, int * */
    long long ilo, ihi;
    double lo, hi;
    int lo_open;
    int allow_empty;
    const char *const *choices;
    const char *metavar;   /* for the usage: "N", "X", "FILE" */
    const char *help;
    int seen;              /* set by cli_parse */
} cli_flag;

/* Table helpers. */
#define CLI_FLAG_INT(n, d, lo_, hi_, mv, h) {.name = (n), .kind = CLI_INT, .dst = (d), .ilo = (lo_), .ihi = (hi_), .metavar = (mv), .help = (h)}
#define CLI_FLAG_FLOAT(n, d, lo_, hi_, open_, mv, h) {.name = (n), .kind = CLI_FLOAT, .dst = (d), .lo = (lo_), .hi = (hi_), .lo_open = (open_), .metavar = (mv), .help = (h)}
#define CLI_FLAG_STRING(n, d, mv, h) {.name = (n), .kind = CLI_STRING, .dst = (d), .metavar = (mv), .help = (h)}
#define CLI_FLAG_CHOICE(n, d, ch, mv, h) {.name = (n), .kind = CLI_CHOICE, .dst = (d), .choices = (ch), .metavar = (mv), .help = (h)}
#define CLI_FLAG_SWITCH(n, d, h) {.name = (n), .kind = CLI_SWITCH, .dst = (d), .help = (h)}

#define CLI_HELP (-1)   /* cli_parse's result when --help / -h was given */

/* Parses argv[0..argc) (the arguments after the command name) against flags.
 * Positional arguments are collected, in order, into pos (at most max_pos;
 * one more is an error "unexpected argument"), their number into *npos.
 * Returns 0, 2 after printing a one-line error, or CLI_HELP. */
int cli_parse(const char *cmd, cli_flag *flags, size_t nflags, int argc, char **argv, const char **pos,
              size_t max_pos, size_t *npos);

/* Single-value parsers used by cli_parse, usable on their own; they print the
 * one-line error and return 2, or return 0. */
int cli_parse_int(const char *cmd, const char *flag, const char *s, long long lo, long long hi, long long *out);
int cli_parse_float(const char *cmd, const char *flag, const char *s, double lo, double hi, int lo_open, double *out);

/* Prints the flags' lines for a usage text: "  --steps N   help". */
void cli_print_flags(FILE *f, const cli_flag *flags, size_t nflags);

#endif
