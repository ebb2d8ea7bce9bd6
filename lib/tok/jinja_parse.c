/* jinja_parse.c - tokens to an AST, by recursive descent with Jinja's precedence
 * (lowest first): x if c else y; or; and; not; comparisons and in / not in (chained);
 * + -; ~; * / // %; **; unary - +; then postfix . [] () and, binding tighter than every
 * binary operator, filters (|) and tests (is).
 *
 * Every name a template uses as a filter, test, method, function or tag is checked
 * here, so an unsupported one fails at compile time, not when rendering reaches it. */
#include <string.h>

#include "tok/jinja_internal.h"

typedef struct parser {
    const jtokens *tk;
    size_t i;
    jarena *a;
    dl_err *err;
    int depth;        /* parser recursion */
    int loop_depth;   /* for loops around the current statement */
} parser;

static const jtoken *cur(const parser *P) { return &P->tk->t[P->i]; }
static const jtoken *peek(const parser *P, size_t k) {
    size_t j = P->i + k;
    return j < P->tk->n ? &P->tk->t[j] : &P->tk->t[P->tk->n - 1];   /* the EOF token */
}
static void next(parser *P) {
    if (P->i + 1 < P->tk->n) P->i++;
}

static int is_op(const jtoken *t, int op) { return t->kind == JT_OP && t->op == op; }
static int is_word(const jtoken *t, const char *w) {
    return t->kind == JT_NAME && t->n == strlen(w) && memcmp(t->p, w, t->n) == 0;
}

static int syntax(parser *P, const char *what) {
    return dl_fail(P->err, DIFFLM_E_FORMAT, "chat template line %d: %s", cur(P)->line, what);
}
static int unsupported(parser *P, int line, const char *what, const char *name, size_t n) {
    return dl_fail(P->err, DIFFLM_E_UNSUPPORTED, "chat template line %d: %s '%.*s' is not supported", line, what,
                   (int)(n > 64 ? 64 : n), name);
}
static int nomem(parser *P) { return dl_fail(P->err, DIFFLM_E_NOMEM, "chat template: out of memory"); }

static int expect_op(parser *P, int op, const char *what) {
    if (!is_op(cur(P), op)) return syntax(P, what);
    next(P);
    return 0;
}

static jnode *mk(parser *P, int kind, int line) {
    jnode *n = ja_alloc(P->a, sizeof *n);
    if (n) {
        n->kind = (uint8_t)kind;
        n->line = line;
    }
    return n;
}

static int child_depth(const jnode *n) { return n ? n->depth : 0; }

/* Sets n's depth from its children; fails past the nesting bound. */
static int finish(parser *P, jnode *n) {
    int d = DL_MAX(DL_MAX(child_depth(n->a), child_depth(n->b)), DL_MAX(child_depth(n->c), child_depth(n->d)));
    for (size_t k = 0; k < n->n_args; k++) d = DL_MAX(d, child_depth(n->args[k]));
    for (size_t k = 0; k < n->n_kw; k++) d = DL_MAX(d, child_depth(n->kw_vals[k]));
    if (d + 1 > DL_JINJA_MAX_DEPTH)
        return dl_fail(P->err, DIFFLM_E_UNSUPPORTED, "chat template line %d: nested deeper than %d", n->line,
                       DL_JINJA_MAX_DEPTH);
    n->depth = (uint16_t)(d + 1);
    return 0;
}

/* A growable array of node pointers, copied into the arena when complete. */
typedef struct nodevec {
    jnode **v;
    size_t n, cap;
} nodevec;

static int vec_push(parser *P, nodevec *v, jnode *x) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 8;
        jnode **p = dl_realloc(v->v, cap * sizeof *p);
        if (!p) return nomem(P);
        v->v = p;
        v->cap = cap;
    }
    v->v[v->n++] = x;
    return 0;
}

static jnode **vec_done(parser *P, nodevec *v) {
    jnode **p = v->n ? ja_alloc(P->a, v->n * sizeof *p) : NULL;
    if (p) memcpy(p, v->v, v->n * sizeof *p);
    dl_free(v->v);
    v->v = NULL;
    return p;
}

static int parse_expr(parser *P, jnode **out);
static int parse_unary(parser *P, int with_filter, jnode **out);

static int enter(parser *P) {
    if (++P->depth > DL_JINJA_MAX_DEPTH)
        return dl_fail(P->err, DIFFLM_E_UNSUPPORTED, "chat template line %d: nested deeper than %d", cur(P)->line,
                       DL_JINJA_MAX_DEPTH);
    return 0;
}

static jnode *mk_const(parser *P, int line, jval v) {
    jnode *n = mk(P, JN_CONST, line);
    if (n) {
        n->cval = v;
        n->depth = 1;
    }
    return n;
}

/* Immortal string from bytes. */
static jstr *const_str(parser *P, const char *p, size_t n) {
    if (n > UINT32_MAX - 1) return NULL;
    jstr *s = ja_alloc(P->a, sizeof *s + n + 1);
    if (!s) return NULL;
    s->rc = -1;
    s->n = (uint32_t)n;
    if (n) memcpy(s->p, p, n);
    s->p[n] = '\0';
    return s;
}

/* Arguments of a call: ( expr, ..., name=expr, ... ). */
static int parse_args(parser *P, jnode *n) {
    nodevec pos = {0}, kw = {0};
    const char **names = NULL;
    size_t *name_n = NULL, n_names = 0, names_cap = 0;
    int rc = expect_op(P, JOP_LPAREN, "expected '('");
    while (!rc && !is_op(cur(P), JOP_RPAREN)) {
        if (pos.n + kw.n) rc = expect_op(P, JOP_COMMA, "expected ',' between arguments");
        if (rc || is_op(cur(P), JOP_RPAREN)) break;   /* a trailing comma */
        if (is_op(cur(P), JOP_MUL) || is_op(cur(P), JOP_POW)) {
            rc = dl_fail(P->err, DIFFLM_E_UNSUPPORTED, "chat template line %d: *args and **kwargs are not supported",
                         cur(P)->line);
            break;
        }
        jnode *x;
        if (cur(P)->kind == JT_NAME && is_op(peek(P, 1), JOP_ASSIGN)) {
            if (n_names == names_cap) {
                names_cap = names_cap ? 2 * names_cap : 4;
                const char **a = dl_realloc(names, names_cap * sizeof *a);
                if (a) names = a;
                size_t *b = a ? dl_realloc(name_n, names_cap * sizeof *b) : NULL;
                if (b) name_n = b;
                if (!a || !b) {
                    rc = nomem(P);
                    break;
                }
            }
            names[n_names] = cur(P)->p;
            name_n[n_names++] = cur(P)->n;
            next(P);
            next(P);
            if (!(rc = parse_expr(P, &x))) rc = vec_push(P, &kw, x);
        } else if (kw.n) {
            rc = syntax(P, "a positional argument after a keyword argument");
        } else if (!(rc = parse_expr(P, &x))) {
            rc = vec_push(P, &pos, x);
        }
    }
    if (!rc) rc = expect_op(P, JOP_RPAREN, "expected ')'");
    if (!rc) {
        n->n_args = pos.n;
        n->n_kw = kw.n;
        n->args = vec_done(P, &pos);
        n->kw_vals = vec_done(P, &kw);
        if (n->n_kw) {
            n->kw_names = ja_alloc(P->a, n->n_kw * sizeof *n->kw_names);
            n->kw_n = ja_alloc(P->a, n->n_kw * sizeof *n->kw_n);
            if (n->kw_names && n->kw_n) {
                memcpy(n->kw_names, names, n->n_kw * sizeof *names);
                memcpy(n->kw_n, name_n, n->n_kw * sizeof *name_n);
            }
        }
        if ((n->n_args && !n->args) || (n->n_kw && (!n->kw_vals || !n->kw_names || !n->kw_n))) rc = nomem(P);
    }
    dl_free(pos.v);
    dl_free(kw.v);
    dl_free(names);
    dl_free(name_n);
    return rc;
}

/* [ ... ] after an expression: an index or a slice a:b:c (each part optional). */
static int parse_subscript(parser *P, jnode *obj, jnode **out) {
    int line = cur(P)->line;
    next(P);   /* [ */
    jnode *part[3] = {NULL, NULL, NULL};
    int k = 0, is_slice = 0, rc = 0;
    for (;;) {
        if (!is_op(cur(P), JOP_COLON) && !is_op(cur(P), JOP_RBRACK)) {
            if ((rc = parse_expr(P, &part[k]))) return rc;
        }
        if (is_op(cur(P), JOP_COLON) && k < 2) {
            is_slice = 1;
            k++;
            next(P);
            continue;
        }
        break;
    }
    if (is_op(cur(P), JOP_COMMA))
        return dl_fail(P->err, DIFFLM_E_UNSUPPORTED, "chat template line %d: tuple subscripts are not supported", line);
    if ((rc = expect_op(P, JOP_RBRACK, "expected ']'"))) return rc;
    if (!is_slice && !part[0]) return syntax(P, "empty subscript");
    jnode *n = mk(P, is_slice ? JN_SLICE : JN_ITEM, line);
    if (!n) return nomem(P);
    n->a = obj;
    n->b = part[0];
    n->c = part[1];
    n->d = part[2];
    *out = n;
    return finish(P, n);
}

static int parse_postfix(parser *P, jnode **node) {
    int rc;
    for (;;) {
        const jtoken *t = cur(P);
        if (is_op(t, JOP_DOT)) {
            next(P);
            const jtoken *nm = cur(P);
            jnode *n;
            if (nm->kind == JT_INT) {   /* x.0 is x[0] */
                n = mk(P, JN_ITEM, nm->line);
                jnode *idx = mk_const(P, nm->line, (jval){.t = JV_INT, .u.i = nm->ival});
                if (!n || !idx) return nomem(P);
                n->a = *node;
                n->b = idx;
                next(P);
            } else if (nm->kind == JT_NAME) {
                next(P);
                int is_call = is_op(cur(P), JOP_LPAREN);
                n = mk(P, is_call ? JN_METHOD : JN_ATTR, nm->line);
                if (!n) return nomem(P);
                n->a = *node;
                n->name = nm->p;
                n->name_n = nm->n;
                if (is_call) {
                    n->builtin = dl_jinja_method_id(nm->p, nm->n);
                    if (n->builtin < 0) return unsupported(P, nm->line, "method", nm->p, nm->n);
                    if ((rc = parse_args(P, n))) return rc;
                }
            } else {
                return syntax(P, "expected a name after '.'");
            }
            if ((rc = finish(P, n))) return rc;
            *node = n;
        } else if (is_op(t, JOP_LBRACK)) {
            if ((rc = parse_subscript(P, *node, node))) return rc;
        } else if (is_op(t, JOP_LPAREN)) {
            if ((*node)->kind != JN_NAME)
                return dl_fail(P->err, DIFFLM_E_UNSUPPORTED,
                               "chat template line %d: only named functions can be called here", t->line);
            jnode *n = *node;
            n->kind = JN_CALL;
            n->builtin = dl_jinja_func_id(n->name, n->name_n);
            if (n->builtin < 0) return unsupported(P, t->line, "function", n->name, n->name_n);
            if ((rc = parse_args(P, n)) || (rc = finish(P, n))) return rc;
        } else {
            return 0;
        }
    }
}

static int parse_filter_expr(parser *P, jnode **node) {
    int rc;
    for (;;) {
        const jtoken *t = cur(P);
        if (is_op(t, JOP_PIPE)) {
            next(P);
            const jtoken *nm = cur(P);
            if (nm->kind != JT_NAME) return syntax(P, "expected a filter name after '|'");
            next(P);
            if (is_op(cur(P), JOP_DOT)) return unsupported(P, nm->line, "dotted filter", nm->p, nm->n);
            jnode *n = mk(P, JN_FILTER, nm->line);
            if (!n) return nomem(P);
            n->name = nm->p;
            n->name_n = nm->n;
            n->builtin = dl_jinja_filter_id(nm->p, nm->n);
            if (n->builtin < 0) return unsupported(P, nm->line, "filter", nm->p, nm->n);
            n->a = *node;
            if (is_op(cur(P), JOP_LPAREN) && (rc = parse_args(P, n))) return rc;
            if ((rc = finish(P, n))) return rc;
            *node = n;
        } else if (is_word(t, "is")) {
            next(P);
            int neg = 0;
            if (is_word(cur(P), "not")) {
                neg = 1;
                next(P);
            }
            const jtoken *nm = cur(P);
            if (nm->kind != JT_NAME) return syntax(P, "expected a test name after 'is'");
            next(P);
            jnode *n = mk(P, JN_TEST, nm->line);
            if (!n) return nomem(P);
            n->op = (uint8_t)neg;
            n->name = nm->p;
            n->name_n = nm->n;
            n->builtin = dl_jinja_test_id(nm->p, nm->n);
            if (n->builtin < 0) return unsupported(P, nm->line, "test", nm->p, nm->n);
            const jtoken *x = cur(P);
            int has_arg = is_op(x, JOP_LPAREN) || is_op(x, JOP_LBRACK) || is_op(x, JOP_LBRACE) ||
                          x->kind == JT_STRING || x->kind == JT_INT ||
                          (x->kind == JT_NAME && !is_word(x, "else") && !is_word(x, "or") && !is_word(x, "and"));
            if (has_arg) return unsupported(P, nm->line, "test with an argument", nm->p, nm->n);
            n->a = *node;
            if ((rc = finish(P, n))) return rc;
            *node = n;
        } else if (is_op(t, JOP_LPAREN)) {
            return dl_fail(P->err, DIFFLM_E_UNSUPPORTED,
                           "chat template line %d: calling the result of a filter or test is not supported", t->line);
        } else {
            return 0;
        }
    }
}

/* ( ... ), [ ... ]: items up to the closing bracket, commas between, one trailing comma. */
static int parse_items(parser *P, int close, nodevec *v, int *had_comma) {
    int rc = 0;
    *had_comma = 0;
    while (!is_op(cur(P), close)) {
        if (v->n) {
            if ((rc = expect_op(P, JOP_COMMA, "expected ','"))) return rc;
            *had_comma = 1;
            if (is_op(cur(P), close)) break;
        }
        jnode *x;
        if ((rc = parse_expr(P, &x)) || (rc = vec_push(P, v, x))) return rc;
    }
    next(P);
    return 0;
}

static int parse_primary(parser *P, jnode **out) {
    const jtoken *t = cur(P);
    int rc;
    if (t->kind == JT_NAME) {
        static const struct { const char *w; uint8_t t; int64_t v; } consts[] = {
            {"true", JV_BOOL, 1}, {"True", JV_BOOL, 1}, {"false", JV_BOOL, 0}, {"False", JV_BOOL, 0},
            {"none", JV_NONE, 0}, {"None", JV_NONE, 0},
        };
        for (size_t k = 0; k < sizeof consts / sizeof consts[0]; k++)
            if (is_word(t, consts[k].w)) {
                next(P);
                return (*out = mk_const(P, t->line, (jval){.t = consts[k].t, .u.i = consts[k].v})) ? 0 : nomem(P);
            }
        if (dl_jinja_global_unsupported(t->p, t->n)) return unsupported(P, t->line, "global", t->p, t->n);
        jnode *n = mk(P, JN_NAME, t->line);
        if (!n) return nomem(P);
        n->name = t->p;
        n->name_n = t->n;
        n->depth = 1;
        next(P);
        *out = n;
        return 0;
    }
    if (t->kind == JT_STRING) {   /* adjacent literals concatenate */
        size_t total = 0, first = P->i;
        while (cur(P)->kind == JT_STRING) {
            total += cur(P)->n;
            next(P);
        }
        char *buf = ja_alloc(P->a, total + 1);
        if (!buf) return nomem(P);
        size_t k = 0;
        for (size_t j = first; j < P->i; j++) {
            memcpy(buf + k, P->tk->t[j].p, P->tk->t[j].n);
            k += P->tk->t[j].n;
        }
        jstr *s = const_str(P, buf, total);
        if (!s) return nomem(P);
        return (*out = mk_const(P, t->line, (jval){.t = JV_STR, .u.s = s})) ? 0 : nomem(P);
    }
    if (t->kind == JT_INT) {
        next(P);
        return (*out = mk_const(P, t->line, (jval){.t = JV_INT, .u.i = t->ival})) ? 0 : nomem(P);
    }
    if (is_op(t, JOP_LPAREN) || is_op(t, JOP_LBRACK)) {
        int paren = is_op(t, JOP_LPAREN), had_comma;
        next(P);
        nodevec v = {0};
        if ((rc = parse_items(P, paren ? JOP_RPAREN : JOP_RBRACK, &v, &had_comma))) {
            dl_free(v.v);
            return rc;
        }
        if (paren && v.n == 1 && !had_comma) {   /* plain parentheses */
            *out = v.v[0];
            dl_free(v.v);
            return 0;
        }
        /* a tuple works as a list: the subset never prints either */
        jnode *n = mk(P, JN_LIST, t->line);
        if (!n) {
            dl_free(v.v);
            return nomem(P);
        }
        n->n_args = v.n;
        n->args = vec_done(P, &v);
        if (n->n_args && !n->args) return nomem(P);
        *out = n;
        return finish(P, n);
    }
    if (is_op(t, JOP_LBRACE)) {
        next(P);
        nodevec keys = {0}, vals = {0};
        rc = 0;
        while (!rc && !is_op(cur(P), JOP_RBRACE)) {
            if (keys.n && (rc = expect_op(P, JOP_COMMA, "expected ',' in a dict"))) break;
            if (is_op(cur(P), JOP_RBRACE)) break;
            jnode *k, *x;
            if ((rc = parse_expr(P, &k)) || (rc = expect_op(P, JOP_COLON, "expected ':' in a dict")) ||
                (rc = parse_expr(P, &x)) || (rc = vec_push(P, &keys, k)) || (rc = vec_push(P, &vals, x)))
                break;
        }
        if (!rc) rc = expect_op(P, JOP_RBRACE, "expected '}'");
        jnode *n = rc ? NULL : mk(P, JN_DICT, t->line);
        if (!rc && !n) rc = nomem(P);
        if (rc) {
            dl_free(keys.v);
            dl_free(vals.v);
            return rc;
        }
        n->n_args = n->n_kw = keys.n;
        n->args = vec_done(P, &keys);
        n->kw_vals = vec_done(P, &vals);
        if (n->n_args && (!n->args || !n->kw_vals)) return nomem(P);
        *out = n;
        return finish(P, n);
    }
    return syntax(P, t->kind == JT_VAR_END || t->kind == JT_BLOCK_END ? "expected an expression before the end of the tag"
                                                                       : "unexpected token in an expression");
}

static int mk_binary(parser *P, int op, int line, jnode *l, jnode *r, jnode **out) {
    jnode *n = mk(P, op == JOP_NOT || op == JOP_NEG || op == JOP_POS ? JN_UNARY : JN_BINARY, line);
    if (!n) return nomem(P);
    n->op = (uint8_t)op;
    n->a = l;
    n->b = r;
    *out = n;
    return finish(P, n);
}

static int parse_unary(parser *P, int with_filter, jnode **out) {
    int rc;
    if ((rc = enter(P))) return rc;
    const jtoken *t = cur(P);
    if (is_op(t, JOP_SUB) || is_op(t, JOP_ADD)) {
        next(P);
        jnode *x;
        if (!(rc = parse_unary(P, 0, &x))) rc = mk_binary(P, is_op(t, JOP_SUB) ? JOP_NEG : JOP_POS, t->line, x, NULL, out);
    } else {
        rc = parse_primary(P, out);
    }
    if (!rc) rc = parse_postfix(P, out);
    if (!rc && with_filter) rc = parse_filter_expr(P, out);
    P->depth--;
    return rc;
}

static int parse_pow(parser *P, jnode **out) {
    int rc = parse_unary(P, 1, out);
    while (!rc && is_op(cur(P), JOP_POW)) {
        int line = cur(P)->line;
        next(P);
        jnode *r;
        if (!(rc = parse_unary(P, 1, &r))) rc = mk_binary(P, JOP_POW, line, *out, r, out);
    }
    return rc;
}

static int parse_math2(parser *P, jnode **out) {
    int rc = parse_pow(P, out);
    while (!rc && (is_op(cur(P), JOP_MUL) || is_op(cur(P), JOP_DIV) || is_op(cur(P), JOP_FLOORDIV) ||
                   is_op(cur(P), JOP_MOD))) {
        int op = cur(P)->op, line = cur(P)->line;
        next(P);
        jnode *r;
        if (!(rc = parse_pow(P, &r))) rc = mk_binary(P, op, line, *out, r, out);
    }
    return rc;
}

static int parse_concat(parser *P, jnode **out) {
    int rc = parse_math2(P, out);
    while (!rc && is_op(cur(P), JOP_TILDE)) {
        int line = cur(P)->line;
        next(P);
        jnode *r;
        if (!(rc = parse_math2(P, &r))) rc = mk_binary(P, JOP_TILDE, line, *out, r, out);
    }
    return rc;
}

static int parse_math1(parser *P, jnode **out) {
    int rc = parse_concat(P, out);
    while (!rc && (is_op(cur(P), JOP_ADD) || is_op(cur(P), JOP_SUB))) {
        int op = cur(P)->op, line = cur(P)->line;
        next(P);
        jnode *r;
        if (!(rc = parse_concat(P, &r))) rc = mk_binary(P, op, line, *out, r, out);
    }
    return rc;
}

static int compare_op(const parser *P) {
    const jtoken *t = cur(P);
    if (t->kind == JT_OP && (t->op == JOP_EQ || t->op == JOP_NE || t->op == JOP_LT || t->op == JOP_LE ||
                             t->op == JOP_GT || t->op == JOP_GE))
        return t->op;
    if (is_word(t, "in")) return JOP_IN;
    if (is_word(t, "not") && is_word(peek(P, 1), "in")) return JOP_NOTIN;
    return 0;
}

/* a < b < c is (a < b) and (b < c), b evaluated twice: the subset has no side effects. */
static int parse_compare(parser *P, jnode **out) {
    jnode *left;
    int rc = parse_math1(P, &left), op;
    jnode *result = NULL;
    while (!rc && (op = compare_op(P))) {
        int line = cur(P)->line;
        next(P);
        if (op == JOP_NOTIN) next(P);
        jnode *right = NULL, *cmp = NULL;
        if ((rc = parse_math1(P, &right)) || (rc = mk_binary(P, op, line, left, right, &cmp))) break;
        if (result) rc = mk_binary(P, JOP_AND, line, result, cmp, &result);
        else result = cmp;
        left = right;
    }
    if (!rc) *out = result ? result : left;
    return rc;
}

static int parse_not(parser *P, jnode **out) {
    if (is_word(cur(P), "not")) {
        int line = cur(P)->line, rc;
        next(P);
        if ((rc = enter(P))) return rc;
        jnode *x;
        if (!(rc = parse_not(P, &x))) rc = mk_binary(P, JOP_NOT, line, x, NULL, out);
        P->depth--;
        return rc;
    }
    return parse_compare(P, out);
}

static int parse_and(parser *P, jnode **out) {
    int rc = parse_not(P, out);
    while (!rc && is_word(cur(P), "and")) {
        int line = cur(P)->line;
        next(P);
        jnode *r;
        if (!(rc = parse_not(P, &r))) rc = mk_binary(P, JOP_AND, line, *out, r, out);
    }
    return rc;
}

static int parse_or(parser *P, jnode **out) {
    int rc = parse_and(P, out);
    while (!rc && is_word(cur(P), "or")) {
        int line = cur(P)->line;
        next(P);
        jnode *r;
        if (!(rc = parse_and(P, &r))) rc = mk_binary(P, JOP_OR, line, *out, r, out);
    }
    return rc;
}

/* x if cond [else y] */
static int parse_expr(parser *P, jnode **out) {
    int rc;
    if ((rc = enter(P))) return rc;
    rc = parse_or(P, out);
    while (!rc && is_word(cur(P), "if")) {
        jnode *n = mk(P, JN_COND, cur(P)->line);
        if (!n) {
            rc = nomem(P);
            break;
        }
        next(P);
        n->b = *out;
        if ((rc = parse_or(P, &n->a))) break;
        if (is_word(cur(P), "else")) {
            next(P);
            if ((rc = parse_expr(P, &n->c))) break;
        }
        if ((rc = finish(P, n))) break;
        *out = n;
    }
    P->depth--;
    return rc;
}

/* ---- statements */

static int expect_block_end(parser *P) {
    if (cur(P)->kind != JT_BLOCK_END) return syntax(P, "expected the end of the tag (%})");
    next(P);
    return 0;
}

/* Parses statements until {% <one of ends> %} (the name left current) or the end of
 * the template (ends == NULL only). Sets *which to the index of the end tag found. */
static int parse_body(parser *P, const char *const *ends, int *which, jnode **out);

static int parse_if(parser *P, int line, jnode **out) {
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    jnode *n = mk(P, JN_IF, line);
    if (!n) return nomem(P);
    int rc, which;
    if ((rc = parse_expr(P, &n->a)) || (rc = expect_block_end(P)) || (rc = parse_body(P, ends, &which, &n->b)))
        return rc;
    int tag_line = cur(P)->line;
    next(P);   /* the end tag's name */
    if (which == 0) {   /* elif: an if in the else branch */
        jnode *body = mk(P, JN_BODY, tag_line);
        if (!body) return nomem(P);
        body->args = ja_alloc(P->a, sizeof *body->args);
        if (!body->args) return nomem(P);
        body->n_args = 1;
        if ((rc = enter(P))) return rc;
        rc = parse_if(P, tag_line, &body->args[0]);
        P->depth--;
        if (rc || (rc = finish(P, body))) return rc;
        n->c = body;
    } else if (which == 1) {
        static const char *const end_only[] = {"endif", NULL};
        if ((rc = expect_block_end(P)) || (rc = parse_body(P, end_only, &which, &n->c))) return rc;
        next(P);
        if ((rc = expect_block_end(P))) return rc;
    } else if ((rc = expect_block_end(P))) {
        return rc;
    }
    *out = n;
    return finish(P, n);
}

static int parse_for(parser *P, int line, jnode **out) {
    static const char *const ends[] = {"else", "endfor", NULL};
    const jtoken *t = cur(P);
    if (t->kind != JT_NAME) return syntax(P, "expected a loop variable after 'for'");
    jnode *n = mk(P, JN_FOR, line);
    if (!n) return nomem(P);
    n->name = t->p;
    n->name_n = t->n;
    next(P);
    if (is_op(cur(P), JOP_COMMA))
        return dl_fail(P->err, DIFFLM_E_UNSUPPORTED, "chat template line %d: for with several loop variables is not supported", line);
    if (!is_word(cur(P), "in")) return syntax(P, "expected 'in' in a for tag");
    next(P);
    int rc, which;
    /* the iterable: no inline if, so that "for x in y if c" is recognised */
    if ((rc = enter(P))) return rc;
    rc = parse_or(P, &n->a);
    P->depth--;
    if (rc) return rc;
    if (is_word(cur(P), "if") || is_word(cur(P), "recursive"))
        return unsupported(P, cur(P)->line, "for-loop clause", cur(P)->p, cur(P)->n);
    if ((rc = expect_block_end(P))) return rc;
    P->loop_depth++;
    rc = parse_body(P, ends, &which, &n->b);
    P->loop_depth--;
    if (rc) return rc;
    next(P);
    if (which == 0) {
        static const char *const end_only[] = {"endfor", NULL};
        if ((rc = expect_block_end(P)) || (rc = parse_body(P, end_only, &which, &n->c))) return rc;
        next(P);
    }
    if ((rc = expect_block_end(P))) return rc;
    *out = n;
    return finish(P, n);
}

static int parse_set(parser *P, int line, jnode **out) {
    const jtoken *t = cur(P);
    if (t->kind != JT_NAME) return syntax(P, "expected a name after 'set'");
    jnode *n = mk(P, JN_SET, line);
    if (!n) return nomem(P);
    n->name = t->p;
    n->name_n = t->n;
    next(P);
    if (is_op(cur(P), JOP_DOT)) {
        next(P);
        if (cur(P)->kind != JT_NAME) return syntax(P, "expected an attribute name in set");
        n->kind = JN_SETATTR;
        n->attr = cur(P)->p;
        n->attr_n = cur(P)->n;
        next(P);
    }
    if (is_op(cur(P), JOP_COMMA))
        return dl_fail(P->err, DIFFLM_E_UNSUPPORTED, "chat template line %d: set with several targets is not supported", line);
    if (cur(P)->kind == JT_BLOCK_END || is_op(cur(P), JOP_PIPE))
        return dl_fail(P->err, DIFFLM_E_UNSUPPORTED, "chat template line %d: block set ({%% set x %%}...{%% endset %%}) is not supported", line);
    int rc;
    if ((rc = expect_op(P, JOP_ASSIGN, "expected '=' in set")) || (rc = parse_expr(P, &n->a)) ||
        (rc = expect_block_end(P)))
        return rc;
    *out = n;
    return finish(P, n);
}

/* One {% ... %} statement, the name current. */
static int parse_statement(parser *P, jnode **out) {
    const jtoken *t = cur(P);
    int line = t->line, rc;
    if (t->kind != JT_NAME) return syntax(P, "expected a tag name after {%");
    next(P);
    if ((rc = enter(P))) return rc;
    if (is_word(t, "if")) rc = parse_if(P, line, out);
    else if (is_word(t, "for")) rc = parse_for(P, line, out);
    else if (is_word(t, "set")) rc = parse_set(P, line, out);
    else if (is_word(t, "break") || is_word(t, "continue")) {
        if (!P->loop_depth) rc = syntax(P, "break or continue outside a for loop");
        else if (!(rc = expect_block_end(P))) {
            *out = mk(P, is_word(t, "break") ? JN_BREAK : JN_CONTINUE, line);
            if (!*out) rc = nomem(P);
            else (*out)->depth = 1;
        }
    } else if (is_word(t, "generation")) {
        /* Hugging Face's AssistantTracker tag: renders its body unchanged */
        static const char *const ends[] = {"endgeneration", NULL};
        int which;
        if (!(rc = expect_block_end(P)) && !(rc = parse_body(P, ends, &which, out))) {
            next(P);
            rc = expect_block_end(P);
        }
    } else {
        static const char *const enders[] = {"endif", "endfor", "elif", "else", "endgeneration", "endset", NULL};
        int is_ender = 0;
        for (int k = 0; enders[k]; k++) is_ender |= is_word(t, enders[k]);
        if (is_ender) rc = dl_fail(P->err, DIFFLM_E_FORMAT, "chat template line %d: unexpected {%% %.*s %%}", line,
                                   (int)(t->n > 32 ? 32 : t->n), t->p);
        else rc = unsupported(P, line, "tag", t->p, t->n);
    }
    P->depth--;
    return rc;
}

static int parse_body(parser *P, const char *const *ends, int *which, jnode **out) {
    nodevec v = {0};
    int rc = 0, line = cur(P)->line;
    for (;;) {
        const jtoken *t = cur(P);
        jnode *s = NULL;
        if (t->kind == JT_EOF) {
            if (ends) {
                int k = 0;
                while (ends[k + 1] && strncmp(ends[k], "end", 3) != 0) k++;
                rc = dl_fail(P->err, DIFFLM_E_FORMAT, "chat template: missing {%% %s %%} (the block opened at line %d)",
                             ends[k], line);
            }
            break;
        }
        if (t->kind == JT_TEXT) {
            jstr *str = const_str(P, t->p, t->n);
            s = str ? mk_const(P, t->line, (jval){.t = JV_STR, .u.s = str}) : NULL;
            if (!s) rc = nomem(P);
            else s->kind = JN_TEXT;
            next(P);
        } else if (t->kind == JT_VAR_BEGIN) {
            next(P);
            s = mk(P, JN_OUTPUT, t->line);
            if (!s) rc = nomem(P);
            else if (!(rc = parse_expr(P, &s->a))) {
                if (cur(P)->kind != JT_VAR_END) rc = syntax(P, "expected the end of the tag (}})");
                else {
                    next(P);
                    rc = finish(P, s);
                }
            }
        } else if (t->kind == JT_BLOCK_BEGIN) {
            next(P);
            int k = 0;
            for (; ends && ends[k]; k++)
                if (is_word(cur(P), ends[k])) break;
            if (ends && ends[k]) {
                *which = k;
                break;
            }
            rc = parse_statement(P, &s);
        } else {
            rc = syntax(P, "unexpected token");
        }
        if (rc || (rc = vec_push(P, &v, s))) break;
    }
    jnode *body = rc ? NULL : mk(P, JN_BODY, line);
    if (!rc && !body) rc = nomem(P);
    if (rc) {
        dl_free(v.v);
        return rc;
    }
    body->n_args = v.n;
    body->args = vec_done(P, &v);
    if (body->n_args && !body->args) return nomem(P);
    *out = body;
    return finish(P, body);
}

int dl_jinja_parse(jnode **root, jarena *a, const jtokens *tk, dl_err *err) {
    parser P = {.tk = tk, .a = a, .err = err};
    int which;
    return parse_body(&P, NULL, &which, root);
}
