/* args.c - the difflm CLI's options, from one table, so that every option is parsed and
 * its value checked the same way: a flag where a value should be, text where a number
 * should be, or a number outside its range is refused with a message that names the
 * option and the constraint. The ranges are those lib/sched/sched.c and lib/ctx/ctx.c
 * check (the messages say the same), plus the CLI's stricter ones: --top-p above 1 and
 * --steps beyond the generated length are refused here although the library would run
 * them. */
#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "default_model.h"

enum kind { K_FLAG, K_STR, K_INT, K_FLOAT, K_NAME, K_SEED, K_HELP, K_VERSION };

/* Float ranges, with the wording the library's messages use. */
enum frange { F_NONNEG, F_POS, F_UNIT_OC, F_UNIT_OO, F_UNIT_CC, F_UNIT_CO };

typedef struct option {
    const char *sname, *lname;      /* "-n" (or NULL), "--gen-length" */
    enum kind kind;
    size_t off;                     /* the field in cli_args */
    long lo, hi;                    /* K_INT: inclusive range; K_FLAG: the value to store */
    enum frange fr;                 /* K_FLOAT */
    const char *note;               /* appended to range messages: "(0 = off)" */
    const char *const *names;       /* K_NAME: the accepted names, NULL-terminated */
} option;

static const char *const schedule_names[] = {"auto", "blocks", "timesteps", "block_diffusion",
                                             NULL};
static const char *const remask_names[] = {"auto", "low_confidence", "random", "origin",
                                           "maskgit_plus", "topk_margin", "entropy", NULL};
static const char *const cache_names[] = {"none", "prefix", "dual", NULL};
/* in the order of DIFFLM_PRECISION_* */
static const char *const precision_names[] = {"exact", "bf16", NULL};
/* in the order of DIFFLM_PACK_* */
static const char *const pack_names[] = {"auto", "off", "on", NULL};

#define F(field) offsetof(cli_args, field)
#define IMAX INT32_MAX
static const option options[] = {
    {"-h", "--help", K_HELP, 0, 0, 0, 0, NULL, NULL},
    {NULL, "--version", K_VERSION, 0, 0, 0, 0, NULL, NULL},
    {"-m", "--model", K_STR, F(model), 0, 0, 0, NULL, NULL},
    {"-p", "--prompt", K_STR, F(prompt), 0, 0, 0, NULL, NULL},
    {"-f", "--file", K_STR, F(prompt_file), 0, 0, 0, NULL, NULL},
    {NULL, "--prompt-ids", K_STR, F(prompt_ids), 0, 0, 0, NULL, NULL},
    {NULL, "--infill", K_STR, F(infill), 0, 0, 0, NULL, NULL},
    {NULL, "--canvas-ids", K_STR, F(canvas_ids), 0, 0, 0, NULL, NULL},
    {NULL, "--print-confidences", K_FLAG, F(print_confidences), 1, 0, 0, NULL, NULL},
    {NULL, "--chat", K_FLAG, F(chat), 1, 0, 0, NULL, NULL},
    {"-n", "--gen-length", K_INT, F(g.gen_length), 1, IMAX, 0, NULL, NULL},
    {NULL, "--steps", K_INT, F(g.steps), 1, IMAX, 0, NULL, NULL},
    {NULL, "--block-length", K_INT, F(g.block_length), 0, IMAX, 0, "(0 = the whole generation)",
     NULL},
    {NULL, "--schedule", K_NAME, F(g.schedule), 0, 0, 0, NULL, schedule_names},
    {NULL, "--remasking", K_NAME, F(g.remasking), 0, 0, 0, NULL, remask_names},
    {NULL, "--temp", K_FLOAT, F(g.temperature), 0, 0, F_NONNEG, "(0 = greedy)", NULL},
    {NULL, "--top-k", K_INT, F(g.top_k), 0, IMAX, 0, "(0 = off)", NULL},
    {NULL, "--top-p", K_FLOAT, F(g.top_p), 0, 0, F_UNIT_OC, "(1 = off)", NULL},
    {NULL, "--cfg", K_FLOAT, F(g.cfg_scale), 0, 0, F_NONNEG, "(0 = off)", NULL},
    {NULL, "--eps", K_FLOAT, F(g.eps), 0, 0, F_UNIT_OO, NULL, NULL},
    {NULL, "--alg-temp", K_FLOAT, F(g.alg_temp), 0, 0, F_NONNEG, NULL, NULL},
    {NULL, "--logits-eos-inf", K_FLAG, F(logits_eos_inf), 1, 0, 0, NULL, NULL},
    {NULL, "--conf-eos-eot-inf", K_FLAG, F(conf_eos_eot_inf), 1, 0, 0, NULL, NULL},
    {NULL, "--threshold", K_FLOAT, F(threshold), 0, 0, F_UNIT_OC, NULL, NULL},
    {NULL, "--factor", K_FLOAT, F(factor), 0, 0, F_POS, NULL, NULL},
    {NULL, "--cache", K_NAME, F(g.cache), 0, 0, 0, NULL, cache_names},
    {NULL, "--block-threshold", K_FLOAT, F(g.block_threshold), 0, 0, F_UNIT_CC, NULL, NULL},
    {NULL, "--editing-threshold", K_FLOAT, F(g.editing_threshold), 0, 0, F_UNIT_CO, "(0 = off)",
     NULL},
    {NULL, "--max-post-steps", K_INT, F(g.max_post_steps), 0, IMAX, 0, NULL, NULL},
    {NULL, "--block-recompute", K_FLAG, F(block_recompute), 1, 0, 0, NULL, NULL},
    {NULL, "--early-stop", K_FLAG, F(early_stop), 1, 0, 0, NULL, NULL},
    {NULL, "--no-early-stop", K_FLAG, F(early_stop), 0, 0, 0, NULL, NULL},
    {NULL, "--all-logits", K_FLAG, F(all_logits), 1, 0, 0, NULL, NULL},
    {NULL, "--stats", K_FLAG, F(stats), 1, 0, 0, NULL, NULL},
    {NULL, "--seed", K_SEED, F(g.seed), 0, 0, 0, NULL, NULL},
    {"-t", "--threads", K_INT, F(n_threads), 0, 4096, 0, "(0 = all cores)", NULL},
    {NULL, "--max-canvas", K_INT, F(max_canvas), 1, IMAX, 0, NULL, NULL},
    {NULL, "--precision", K_NAME, F(precision), 0, 0, 0, NULL, precision_names},
    {NULL, "--pack-weights", K_NAME, F(pack_weights), 0, 0, 0, NULL, pack_names},
    {NULL, "--mask-id", K_INT, F(mask_id), 0, IMAX, 0, NULL, NULL},
    {NULL, "--print-ids", K_FLAG, F(print_ids), 1, 0, 0, NULL, NULL},
    {NULL, "--no-live", K_FLAG, F(live), 0, 0, 0, NULL, NULL},
    {"-v", "--verbose", K_FLAG, F(verbose), 1, 0, 0, NULL, NULL},
};
#undef F
#undef IMAX
#define N_OPTIONS (sizeof options / sizeof options[0])

void cli_usage(FILE *f) {
    fprintf(f,
        "usage: difflm [options]\n"
        "  -m, --model PATH        GGUF model, or a Hugging Face model folder (or its\n"
        "                          config.json) (default: $DIFFLM_MODEL, else %s)\n"
        "  -p, --prompt TEXT       prompt text (--prompt=TEXT for text that starts with '-')\n"
        "  -f, --file FILE         read the prompt from FILE ('-' = standard input)\n"
        "                          without -p, -f or --prompt-ids the prompt is read from\n"
        "                          standard input when it is not a terminal; the trailing\n"
        "                          newlines of a file or of standard input are dropped\n"
        "      --prompt-ids LIST   prompt as comma-separated token ids (no BOS, no template)\n"
        "      --infill TEXT       fill the holes of a template: <mask:N> is N tokens to\n"
        "                          generate, the text around them stays (\\<mask: is text);\n"
        "                          -n is not used, the holes' total is the generated length\n"
        "      --canvas-ids LIST   a whole canvas as comma-separated ids, the mask id at the\n"
        "                          positions to generate\n"
        "      --print-confidences after every step print 'confidences STEP' and, per position,\n"
        "                          token/step/probability/score (difflm_confidences)\n"
        "      --chat              wrap the prompt in the model's chat template\n"
        "  -n, --gen-length N      tokens to generate (default 128); prompt + N must fit the\n"
        "                          canvas (--max-canvas)\n"
        "      --steps N           denoising steps, 1 .. N of -n (default 128, or -n if less)\n"
        "      --block-length N    semi-autoregressive block length (default 32; 0 = whole);\n"
        "                          the blocks schedule needs --steps >= the number of blocks\n"
        "      --schedule NAME     auto | blocks (LLaDA) | timesteps (Dream) |\n"
        "                          block_diffusion (block-causal models: auto picks it)\n"
        "      --remasking NAME    auto | low_confidence | random | origin | maskgit_plus |\n"
        "                          topk_margin | entropy\n"
        "      --temp F            temperature >= 0 (default 0 = greedy)\n"
        "      --top-k N           keep the N most likely tokens (0 = off)\n"
        "      --top-p F           nucleus sampling, inside (0, 1] (1 = off)\n"
        "      --cfg F             classifier-free guidance scale >= 0 (0 = off)\n"
        "      --eps F             timesteps schedule: final time, inside (0, 1) (default 0.001)\n"
        "      --alg-temp F        timesteps schedule: randomness of position choice (>= 0)\n"
        "      --logits-eos-inf    never predict end of text\n"
        "      --conf-eos-eot-inf  commit end-of-text / end-of-turn predictions last\n"
        "      --threshold F       parallel decoding: commit the most confident position and\n"
        "                          every other with confidence >= F, F inside (0, 1]\n"
        "                          (Fast-dLLM; e.g. 0.9)\n"
        "      --factor F          parallel decoding: commit the top n with (n+1)(1-c_n) < F,\n"
        "                          F > 0 (not with --threshold)\n"
        "      --cache NAME        none | prefix | dual: approximate KV cache (default none)\n"
        "      --block-threshold F block_diffusion: commit every MASK of the block above F\n"
        "                          if that is at least the step's count (LLaDA2; [0, 1],\n"
        "                          default 0.95; 1 = the counts only)\n"
        "      --editing-threshold F  block_diffusion: replace a committed token whose new\n"
        "                          prediction differs with confidence above F (LLaDA2.1;\n"
        "                          [0, 1), default 0 = off)\n"
        "      --max-post-steps N  block_diffusion with editing: editing steps after a\n"
        "                          block's last MASK (default 0)\n"
        "      --block-recompute   block_diffusion: recompute the canvas each step instead of\n"
        "                          using the exact block KV cache (same tokens; measuring)\n"
        "      --early-stop        stop once end-of-text is committed with nothing masked\n"
        "                          before it (the MASKs after it become EOS)\n"
        "      --no-early-stop     decode every position (default)\n"
        "      --all-logits        compute logits for every canvas row (for measuring)\n"
        "      --stats             print steps, tokens per step and time on stderr\n"
        "      --seed N            random seed, an integer >= 0 (default 0)\n"
        "  -t, --threads N         threads, 0 .. 4096 (default 0 = all cores)\n"
        "      --max-canvas N      longest canvas (prompt + generated) the context serves\n"
        "                          (default: the model's context, at most 2048)\n"
        "      --precision NAME    exact | bf16: products over F32/F16/BF16 weights in f32\n"
        "                          (default) or with bf16 operands and f32 sums (faster,\n"
        "                          less exact; quantized weights are unaffected)\n"
        "      --pack-weights NAME auto | off | on: pack those weights once for the\n"
        "                          products (same results, more memory; auto: bf16\n"
        "                          always, exact when the copy is at most 1 GiB)\n"
        "      --mask-id N         override the model's mask token id\n"
        "      --print-ids         print the final canvas as comma-separated ids, nothing else\n"
        "      --no-live           plain output even on a terminal\n"
        "  -v, --verbose           print the library's log messages\n"
        "      --version           print the CLI's and the library's versions\n"
        "  -h, --help              this help\n"
        "On a terminal the canvas fills in live, the prompt first and masked positions\n"
        "dimmed, committed tokens yellow below probability 0.9 and red below 0.5, within the terminal's height (the last rows when the text is taller).\n"
        "Ctrl-C stops the running step and prints what was decoded so far, masked positions\n"
        "as \xe2\x96\x91 (--print-ids: the ids, the mask id among them).\n"
        "Exit status: 0 done, 1 error, 2 bad usage, 130 interrupted (Ctrl-C).\n",
        difflm_default_model());
}

static void version(void) {
    printf("difflm %s (library %s, ABI %u)\n", DIFFLM_VERSION_STRING, difflm_version(),
           (unsigned)difflm_abi_version());
}

static const option *find_option(const char *name, size_t len) {
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const option *o = &options[i];
        if ((o->sname && strlen(o->sname) == len && !strncmp(o->sname, name, len)) ||
            (strlen(o->lname) == len && !strncmp(o->lname, name, len)))
            return o;
    }
    return NULL;
}

/* A value that is itself an option (or any "--word") is almost surely a forgotten
 * value: "-p --no-live" must not generate from the prompt "--no-live". */
static int looks_like_option(const char *v) {
    return (v[0] == '-' && v[1] == '-') || find_option(v, strlen(v)) != NULL;
}

static int parse_int(const option *o, const char *name, const char *v, cli_args *a) {
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || isspace((unsigned char)v[0]) || n < o->lo || n > o->hi) {
        if (o->hi == INT32_MAX)
            fprintf(stderr, "difflm: %s must be an integer >= %ld%s%s, got '%s'\n", name, o->lo,
                    o->note ? " " : "", o->note ? o->note : "", v);
        else
            fprintf(stderr, "difflm: %s must be an integer in [%ld, %ld]%s%s, got '%s'\n", name,
                    o->lo, o->hi, o->note ? " " : "", o->note ? o->note : "", v);
        return -1;
    }
    *(int32_t *)((char *)a + o->off) = (int32_t)n;
    return 0;
}

static int in_range(double x, enum frange r) {
    switch (r) {
    case F_NONNEG: return x >= 0.0;
    case F_POS: return x > 0.0;
    case F_UNIT_OC: return x > 0.0 && x <= 1.0;
    case F_UNIT_OO: return x > 0.0 && x < 1.0;
    case F_UNIT_CC: return x >= 0.0 && x <= 1.0;
    case F_UNIT_CO: return x >= 0.0 && x < 1.0;
    }
    return 0;
}

static const char *range_text(enum frange r) {
    switch (r) {
    case F_NONNEG: return "a finite value >= 0";
    case F_POS: return "a finite value > 0";
    case F_UNIT_OC: return "inside (0, 1]";
    case F_UNIT_OO: return "inside (0, 1)";
    case F_UNIT_CC: return "inside [0, 1]";
    case F_UNIT_CO: return "inside [0, 1)";
    }
    return "";
}

static int parse_float(const option *o, const char *name, const char *v, cli_args *a) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || isspace((unsigned char)v[0])) {
        fprintf(stderr, "difflm: %s must be a number, got '%s'\n", name, v);
        return -1;
    }
    if (!isfinite(x) || !isfinite((float)x) || !in_range(x, o->fr)) {
        fprintf(stderr, "difflm: %s must be %s%s%s, got '%s'\n", name, range_text(o->fr),
                o->note ? " " : "", o->note ? o->note : "", v);
        return -1;
    }
    *(float *)((char *)a + o->off) = (float)x;
    return 0;
}

static int parse_seed(const char *name, const char *v, cli_args *a) {
    char *end;
    errno = 0;
    /* strtoull takes "-1" as 2^64 - 1: refuse any sign so a negative seed is an error */
    unsigned long long s = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] < '0' || v[0] > '9') {
        fprintf(stderr, "difflm: %s must be an integer in [0, %llu], got '%s'\n", name,
                (unsigned long long)UINT64_MAX, v);
        return -1;
    }
    a->g.seed = s;
    return 0;
}

static int parse_name(const option *o, const char *name, const char *v, cli_args *a) {
    for (int i = 0; o->names[i]; i++)
        if (!strcmp(v, o->names[i])) {
            *(int32_t *)((char *)a + o->off) = i;
            return 0;
        }
    fprintf(stderr, "difflm: %s must be one of", name);
    for (int i = 0; o->names[i]; i++)
        fprintf(stderr, "%s %s", i ? "," : "", o->names[i]);
    fprintf(stderr, "; got '%s'\n", v);
    return -1;
}

static int apply_value(const option *o, const char *name, const char *v, cli_args *a) {
    switch (o->kind) {
    case K_STR: *(const char **)((char *)a + o->off) = v; return 0;
    case K_INT:
        if (o->off == offsetof(cli_args, g.steps))
            a->steps_given = 1;
        return parse_int(o, name, v, a);
    case K_FLOAT: return parse_float(o, name, v, a);
    case K_NAME: return parse_name(o, name, v, a);
    case K_SEED: return parse_seed(name, v, a);
    default: return -1;
    }
}

/* One argument (and its value, if it takes one). Returns how many argv entries it used,
 * or -1 (message printed), or 0 for --help / --version (printed). */
static int parse_one(cli_args *a, int argc, char **argv, int i) {
    const char *arg = argv[i], *eq = NULL;
    if (arg[0] == '-' && arg[1] == '-')
        eq = strchr(arg, '=');  /* --name=value */
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    if (arg[0] != '-') {
        fprintf(stderr, "difflm: unexpected argument '%s' (a prompt goes after -p)\n", arg);
        return -1;
    }
    const option *o = find_option(arg, len);
    if (!o) {
        fprintf(stderr, "difflm: unknown option '%.*s' (see --help)\n", (int)len, arg);
        return -1;
    }
    if (o->kind == K_HELP || o->kind == K_VERSION || o->kind == K_FLAG) {
        if (eq) {
            fprintf(stderr, "difflm: %s takes no value\n", o->lname);
            return -1;
        }
        if (o->kind == K_HELP)
            cli_usage(stdout);
        else if (o->kind == K_VERSION)
            version();
        else
            *(int *)((char *)a + o->off) = (int)o->lo;
        return o->kind == K_FLAG;
    }
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)len, arg);
    if (eq)
        return apply_value(o, name, eq + 1, a) ? -1 : 1;
    if (i + 1 >= argc || looks_like_option(argv[i + 1])) {
        fprintf(stderr, "difflm: %s needs a value", name);
        if (i + 1 < argc)
            fprintf(stderr, ", but '%s' is an option (write %s=VALUE for a value that "
                            "starts with '-')", argv[i + 1], o->lname);
        fputc('\n', stderr);
        return -1;
    }
    return apply_value(o, name, argv[i + 1], a) ? -1 : 2;
}

/* "1,2,3": ids >= 0 that fit an int32, nothing else ("" is the empty prompt). */
static int id_list_ok(const char *s) {
    if (!*s)
        return 1;
    do {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *s < '0' || *s > '9' || v > INT32_MAX || (*end && *end != ','))
            return 0;
        s = *end ? end + 1 : end;
    } while (*s);
    return 1;
}

/* The checks between options, and turning the CLI's fields into difflm_gen_params. */
static int finish(cli_args *a) {
    int sources = !!a->prompt + !!a->prompt_file + !!a->prompt_ids + !!a->infill +
                  !!a->canvas_ids;
    if (sources > 1) {
        fprintf(stderr, "difflm: give one of -p, -f, --prompt-ids, --infill and --canvas-ids, "
                        "not %d of them\n", sources);
        return -1;
    }
    if (a->canvas_ids && !id_list_ok(a->canvas_ids)) {
        fprintf(stderr, "difflm: --canvas-ids must be comma-separated ids >= 0, got '%s'\n",
                a->canvas_ids);
        return -1;
    }
    if (a->chat && cli_canvas_mode(a)) {
        fprintf(stderr, "difflm: --chat does not apply to --infill or --canvas-ids\n");
        return -1;
    }
    if (a->prompt_ids && !id_list_ok(a->prompt_ids)) {
        fprintf(stderr, "difflm: --prompt-ids must be comma-separated ids >= 0, got '%s'\n",
                a->prompt_ids);
        return -1;
    }
    if (a->chat && a->prompt_ids) {
        fprintf(stderr, "difflm: --chat applies to a text prompt (-p, -f or standard input), "
                        "not to --prompt-ids\n");
        return -1;
    }
    if (a->threshold >= 0 && a->factor >= 0) {
        fprintf(stderr, "difflm: give either --threshold or --factor, not both\n");
        return -1;
    }
    if (!a->steps_given && a->g.steps > a->g.gen_length)
        a->g.steps = a->g.gen_length;  /* the default follows a short -n */
    if (!cli_canvas_mode(a) && a->g.steps > a->g.gen_length) {
        fprintf(stderr, "difflm: --steps %d is more than the %d tokens to generate (-n %d): "
                        "steps beyond one per token would commit nothing\n",
                a->g.steps, a->g.gen_length, a->g.gen_length);
        return -1;
    }
    if (a->threshold >= 0) {
        a->g.parallel = DIFFLM_PARALLEL_THRESHOLD;
        a->g.threshold = a->threshold;
    } else if (a->factor >= 0) {
        a->g.parallel = DIFFLM_PARALLEL_FACTOR;
        a->g.factor = a->factor;
    }
    a->g.flags = (a->logits_eos_inf ? DIFFLM_GEN_LOGITS_EOS_INF : 0u) |
                 (a->conf_eos_eot_inf ? DIFFLM_GEN_CONFIDENCE_EOS_EOT_INF : 0u) |
                 (a->early_stop ? DIFFLM_GEN_EARLY_STOP : 0u) |
                 (a->all_logits ? DIFFLM_GEN_ALL_LOGITS : 0u) |
                 (a->block_recompute ? DIFFLM_GEN_BLOCK_RECOMPUTE : 0u);
    if (a->print_ids)
        a->live = 0;
    return 0;
}

int cli_parse(cli_args *a, int argc, char **argv, int stdout_tty) {
    memset(a, 0, sizeof *a);
    a->model = difflm_default_model();
    a->live = stdout_tty;
    a->mask_id = -1;
    a->threshold = a->factor = -1.0f;
    difflm_gen_params_init(&a->g);
    for (int i = 1; i < argc;) {
        int used = parse_one(a, argc, argv, i);
        if (used < 0)
            return CLI_USAGE;
        if (used == 0)
            return CLI_DONE;
        i += used;
    }
    return finish(a) ? CLI_USAGE : CLI_RUN;
}

/* The schedule difflm_generate_begin will run: AUTO resolved as lib/ctx/ctx.c does. */
static int32_t resolved_schedule(const cli_args *a, const difflm_model_info *mi) {
    if (a->g.schedule != DIFFLM_SCHEDULE_AUTO)
        return a->g.schedule;
    if (mi->block_length > 0)
        return DIFFLM_SCHEDULE_BLOCK_DIFFUSION;
    return mi->arch == DIFFLM_ARCH_DREAM && a->g.cache == DIFFLM_CACHE_NONE
               ? DIFFLM_SCHEDULE_TIMESTEPS
               : DIFFLM_SCHEDULE_BLOCKS;
}

int cli_canvas_mode(const cli_args *a) {
    return a->infill || a->canvas_ids;
}

int cli_check_model(const cli_args *a, const difflm_model_info *mi, size_t n_prompt) {
    const difflm_gen_params *g = &a->g;
    if (cli_canvas_mode(a))  /* the canvas is checked by difflm_generate_begin_canvas */
        return 0;
    /* First the canvas: with -n 100000 the library would first complain that 128 steps
     * cannot cover 3125 blocks, which is true but not the point. */
    long long need = (long long)n_prompt + g->gen_length;
    if (need > mi->max_canvas) {
        fprintf(stderr, "difflm: -n %d: the prompt's %zu tokens and %d generated make a canvas "
                        "of %lld, longer than the %d this context serves", g->gen_length,
                n_prompt, g->gen_length, need, mi->max_canvas);
        if (mi->max_canvas < mi->n_ctx_train)
            fprintf(stderr, " (--max-canvas raises it; the model was trained on %d)\n",
                    mi->n_ctx_train);
        else
            fprintf(stderr, " (the model was trained on canvases of %d tokens)\n",
                    mi->n_ctx_train);
        return -1;
    }
    if (resolved_schedule(a, mi) == DIFFLM_SCHEDULE_BLOCKS && g->parallel == DIFFLM_PARALLEL_NONE) {
        int32_t bl = g->block_length <= 0 || g->block_length > g->gen_length ? g->gen_length
                                                                            : g->block_length;
        int32_t blocks = (int32_t)(((int64_t)g->gen_length + bl - 1) / bl);
        if (g->steps < blocks) {
            fprintf(stderr, "difflm: --steps %d%s is fewer than the %d blocks of -n %d in "
                            "--block-length %d: every block needs a step (raise --steps or "
                            "--block-length)\n", g->steps, a->steps_given ? "" : " (the default)",
                    blocks, g->gen_length, bl);
            return -1;
        }
    }
    return 0;
}
