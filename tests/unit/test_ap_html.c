/* Unit tests for lv_ap_html: fediverse HTML -> XHTML and text, XHTML and
 * text -> HTML for Notes, mention linking, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ap/lv_ap_html.h"
#include "blog/lv_syntax.h"
#include "core/lv_mem.h"

#define DIV "<div xmlns='http://www.w3.org/1999/xhtml'>"
#define EMPTY_DIV "<div xmlns='http://www.w3.org/1999/xhtml'/>"

/* ---- helpers ---- */

static void expect_str(const char *row, const char *what, const char *got, const char *want)
{
    if (!got || strcmp(got, want) != 0)
        fail_msg("[%s] %s:\n got  \"%s\"\n want \"%s\"", row, what, got ? got : "(null)", want);
}

static struct lv_xml *to_xhtml(const char *html, size_t len, const struct lv_ap_html_limits *lim,
                               bool *truncated)
{
    struct lv_xml *x = NULL;
    struct lv_error err = {0};
    int rc = lv_ap_html_to_xhtml(html, len, lim, &x, truncated, &err);
    if (rc != 0 || !x)
        fail_msg("conversion failed (%d): %s", rc, err.msg);
    return x;
}

static unsigned depth_of(const struct lv_xml *x)
{
    unsigned max = 0;
    for (const struct lv_xml *c = x->children; c; c = c->next) {
        unsigned d = c->kind == LV_XML_ELEM ? depth_of(c) + 1 : 0;
        if (d > max)
            max = d;
    }
    return max;
}

static size_t count_nodes(const struct lv_xml *x)
{
    size_t n = 1;
    for (const struct lv_xml *c = x->children; c; c = c->next)
        n += count_nodes(c);
    return n;
}

/* The serialization is XML our parser reads back. */
static void expect_reparses(const char *row, const char *s)
{
    static const struct lv_xml_limits lim = {1 << 20, 64, 64, 100000};
    struct lv_xml *x = NULL;
    struct lv_error err = {0};
    if (lv_xml_parse(s, strlen(s), &lim, &x, &err) != 0)
        fail_msg("[%s] output does not parse as XML: %s: %s", row, err.msg, s);
    lv_xml_unref(x);
}

/* ---- HTML -> XHTML ---- */

struct html_case {
    const char *name;
    const char *html;
    const char *xhtml; /* serialized; DIV prefix omitted, NULL: empty div */
};

static const struct html_case html_cases[] = {
    /* Mastodon */
    {"mastodon mention",
     "<p><span class=\"h-card\" translate=\"no\"><a href=\"https://mastodon.social/@Gargron\" "
     "class=\"u-url mention\">@<span>Gargron</span></a></span> hello</p>",
     "<p><span><a href='https://mastodon.social/@Gargron'>@<span>Gargron</span></a></span> "
     "hello</p></div>"},
    {"mastodon hashtag",
     "<p>Tagged <a href=\"https://mastodon.social/tags/fediverse\" class=\"mention hashtag\" "
     "rel=\"tag\">#<span>fediverse</span></a></p>",
     "<p>Tagged <a href='https://mastodon.social/tags/fediverse'>#<span>fediverse</span></a>"
     "</p></div>"},
    {"mastodon shortened link",
     "<p>See <a href=\"https://example.com/a/very/long/path?q=1&amp;r=2\" target=\"_blank\" "
     "rel=\"nofollow noopener noreferrer\" translate=\"no\"><span "
     "class=\"invisible\">https://</span><span class=\"ellipsis\">example.com/a/very/lo</span>"
     "<span class=\"invisible\">ng/path?q=1&amp;r=2</span></a></p>",
     "<p>See <a href='https://example.com/a/very/long/path?q=1&amp;r=2'>"
     "https://example.com/a/very/long/path?q=1&amp;r=2</a></p></div>"},
    {"ellipsis alone also marks a shortened link",
     "<a href=\"https://e.org/xyz\"><span class=\"ellipsis\">e.org/x</span></a>",
     "<a href='https://e.org/xyz'>https://e.org/xyz</a></div>"},
    {"ordinary spans in links are kept",
     "<a href=\"https://e.org/\"><span class=\"other\">text</span></a>",
     "<a href='https://e.org/'><span>text</span></a></div>"},
    {"mastodon post with paragraphs and line breaks",
     "<p>First line<br />second line</p><p>Second paragraph</p>",
     "<p>First line<br/>second line</p><p>Second paragraph</p></div>"},
    /* Pleroma / Akkoma */
    {"pleroma mention",
     "<span class=\"h-card\"><a class=\"u-url mention\" data-user=\"AbC123\" "
     "href=\"https://pleroma.example/users/bob\" rel=\"ugc\">@<span>bob</span></a></span> "
     "hi<br/>there",
     "<span><a href='https://pleroma.example/users/bob'>@<span>bob</span></a></span> "
     "hi<br/>there</div>"},
    /* snac: <br>-separated text, mention links with the full handle */
    {"snac content",
     "<p><a href=\"https://gw.ap.test/_ap/actor/louise\" class=\"u-url mention\">"
     "@louise@gw.ap.test</a> hello<br>how are you?<br><br>bye</p>",
     "<p><a href='https://gw.ap.test/_ap/actor/louise'>@louise@gw.ap.test</a> hello<br/>how "
     "are you?<br/><br/>bye</p></div>"},
    {"snac bare br text", "one<br>two<br>", "one<br/>two<br/></div>"},
    /* Fedify keeps the poster's <p> */
    {"fedify paragraphs",
     "<p>Hello, <a href=\"https://fedify.ap.test/users/alice\" class=\"mention u-url\" "
     "translate=\"no\">@alice@fedify.ap.test</a>!</p>\n<p>Second.</p>\n",
     "<p>Hello, <a href='https://fedify.ap.test/users/alice'>@alice@fedify.ap.test</a>!</p>\n"
     "<p>Second.</p></div>"},
    /* entities */
    {"entities", "<p>a &amp; b &lt;c&gt; &quot;d&quot; &nbsp;&eacute;&#233;&#xE9;&#x1F600;</p>",
     "<p>a &amp; b &lt;c&gt; \"d\" \xc2\xa0\xc3\xa9\xc3\xa9\xc3\xa9\xf0\x9f\x98\x80</p>"
     "</div>"},
    {"entities without semicolon and unknown ones", "&copy 2024 &bogus; &#0; &#xD800;",
     "\xc2\xa9 2024 &amp;bogus; \xef\xbf\xbd \xef\xbf\xbd</div>"},
    /* malformed HTML */
    {"unclosed tags", "<p>one <b>bold <i>both", "<p>one <b>bold <i>both</i></b></p></div>"},
    {"stray end tags", "text</p></div></span>more", "text<p/>more</div>"},
    {"misnested formatting", "<b>a<i>b</b>c</i>", "<b>a<i>b</i></b><i>c</i></div>"},
    {"implied list items", "<ul><li>1<li>2</ul>", "<ul><li>1</li><li>2</li></ul></div>"},
    {"unquoted and duplicate attributes", "<a href=https://a.org/ href=https://b.org/>x</a>",
     "<a href='https://a.org/'>x</a></div>"},
    {"upper case names", "<P TITLE=T><B>x</B></P>", "<p title='T'><b>x</b></p></div>"},
    {"document tags ignored",
     "<!DOCTYPE html><html><head><title>t</title></head><body><p>x</p></body></html>",
     "<p>x</p></div>"},
    {"comments, template, CDATA", "a<!-- c --><template><b>t</b></template><![CDATA[x]]>b",
     "ab</div>"},
    {"custom and odd element names unwrapped",
     "<x-Card>c</x-Card><a:b>z</a:b><foo\"bar>q</foo\"bar>", "czq</div>"},
    {"tables", "<table><tr><td>a<td colspan=2>b</table>",
     "<table><tbody><tr><td>a</td><td colspan='2'>b</td></tr></tbody></table></div>"},
    {"whitespace at the edges", "\n  <p>x</p>\n\n", "<p>x</p></div>"},
    {"empty", "", NULL},
    {"only a comment", "<!-- x -->", NULL},
    {"invalid UTF-8 and controls",
     "a\xff"
     "b\x01"
     "c\x0c"
     "d\x00"
     "e",
     "a\xef\xbf\xbd"
     "b\xef\xbf\xbd"
     "c de</div>"}, /* NUL ignored, as in a browser */
    /* XSS */
    {"script", "<p>a<script>alert(1)</script>b</p>", "<p>ab</p></div>"},
    {"style element and attribute", "<style>p{}</style><p style=\"position:fixed\">s</p>",
     "<p>s</p></div>"},
    {"event handlers", "<img src=x onerror=alert(1)><b onmouseover=\"x\">b</b>",
     "<img src='x'/><b>b</b></div>"},
    {"javascript URL", "<a href=\"javascript:alert(1)\">x</a>", "<a>x</a></div>"},
    {"javascript URL, upper case", "<a href=\"JaVaScRiPt:alert(1)\">x</a>", "<a>x</a></div>"},
    {"javascript URL after spaces and newlines", "<a href=\" \n\t javascript:alert(1)\">x</a>",
     "<a>x</a></div>"},
    {"javascript URL behind entities",
     "<a href=\"&#10;&#x20;java&#x09;script&colon;x\">1</a><a href=\"&#106avascript:x\">2</a>"
     "<a href=\"jav&#x0A;ascript:x\">3</a>",
     "<a>1</a><a>2</a><a>3</a></div>"},
    {"control characters before the scheme", "<a href=\"\x01\x02javascript:x\">x</a>",
     "<a>x</a></div>"},
    {"data and vbscript URLs",
     "<a href=\"data:text/html;base64,PHNjcmlwdD4=\">d</a><img src=\"data:image/png;base64,AA\" "
     "alt=i><a href=\"vbscript:x\">v</a>",
     "<a>d</a><img alt='i'/><a>v</a></div>"},
    {"URLs normalised as browsers read them", "<a href=\"  https://e.org/a\nb  \">e</a>",
     "<a href='https://e.org/ab'>e</a></div>"},
    {"svg and math",
     "<p>a<svg onload=alert(1)><a href=\"javascript:x\">s</a><script>x</script></svg>"
     "<math><mi xlink:href=\"javascript:x\">m</mi></math>b</p>",
     "<p>ab</p></div>"},
    {"active elements",
     "<iframe src=\"https://e.org\">f</iframe><object data=x>o</object><embed src=x>"
     "<form action=x><input value=v><button>b</button></form><base href=\"https://evil/\">"
     "<meta http-equiv=refresh content=\"0;url=https://evil\"><noscript>n</noscript>ok",
     "ok</div>"},
    {"raw text is text", "<xmp><b>x</b></xmp>", "&lt;b&gt;x&lt;/b&gt;</div>"},
    {"plaintext", "<plaintext><script>x", "&lt;script&gt;x</div>"},
    {"srcdoc and formaction", "<iframe srcdoc=\"<script>x</script>\"></iframe><p>t</p>",
     "<p>t</p></div>"},
};

static void test_html_to_xhtml(void **state)
{
    (void)state;
    for (size_t i = 0; i < LV_ARRAY_LEN(html_cases); i++) {
        const struct html_case *c = &html_cases[i];
        size_t len = strlen(c->html);
        if (strcmp(c->name, "invalid UTF-8 and controls") == 0)
            len = 9; /* holds a NUL */
        bool truncated = true;
        struct lv_xml *x = to_xhtml(c->html, len, NULL, &truncated);
        char *got = lv_xml_to_string(x, NULL);
        char *want = c->xhtml ? lv_xasprintf(DIV "%s", c->xhtml) : lv_xstrdup(EMPTY_DIV);
        expect_str(c->name, "xhtml", got, want);
        assert_false(truncated);
        expect_reparses(c->name, got);
        /* what comes out is already clean */
        lv_syntax_sanitize(x);
        char *again = lv_xml_to_string(x, NULL);
        expect_str(c->name, "sanitised again", again, want);
        free(again);
        free(want);
        free(got);
        lv_xml_unref(x);
    }
}

struct text_case {
    const char *html;
    const char *text;
};

static const struct text_case text_cases[] = {
    {"<p>Hello<br>world</p><p>second</p>", "Hello\nworld\n\nsecond"},
    {"<p><span class=\"h-card\"><a href=\"https://m.example/@bob\" class=\"u-url "
     "mention\">@<span>bob</span></a></span> hi</p>",
     "@bob (https://m.example/@bob) hi"},
    {"<a href=\"https://e.org/long\"><span class=\"invisible\">https://</span><span "
     "class=\"ellipsis\">e.org/lo</span><span class=\"invisible\">ng</span></a>",
     "https://e.org/long"},
    {"a &amp; b &lt;script&gt;", "a & b <script>"},
    {"<script>alert(1)</script><style>p{}</style>visible", "visible"},
    {"", ""},
};

static void test_html_to_text(void **state)
{
    (void)state;
    for (size_t i = 0; i < LV_ARRAY_LEN(text_cases); i++) {
        const struct text_case *c = &text_cases[i];
        char *got = NULL;
        assert_int_equal(lv_ap_html_to_text(c->html, strlen(c->html), NULL, &got, NULL), 0);
        expect_str(c->html, "text", got, c->text);
        free(got);
    }
}

/* ---- limits ---- */

static char *nested(size_t n, const char *open, const char *middle, const char *close,
                    const char *after)
{
    struct lv_buf b = LV_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        lv_buf_adds(&b, open);
    lv_buf_adds(&b, middle);
    for (size_t i = 0; i < n; i++)
        lv_buf_adds(&b, close);
    lv_buf_adds(&b, after);
    return lv_buf_detach(&b);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    /* 10,000 <div>s: cut after LV_AP_HTML_MAX_MARKUP '<', then past
     * LV_AP_HTML_MAX_DEPTH, then flattened by the sanitiser */
    char *html = nested(10000, "<div>", "deep", "</div>", "<p>after</p>");
    bool truncated = false;
    struct lv_xml *x = to_xhtml(html, strlen(html), NULL, &truncated);
    assert_true(truncated);
    assert_true(depth_of(x) <= LV_SYNTAX_MAX_DEPTH);
    assert_true(count_nodes(x) <= LV_AP_HTML_MAX_DEPTH + 4);
    char *s = lv_xml_to_string(x, NULL);
    expect_reparses("10000 divs", s);
    free(s);
    lv_xml_unref(x);
    free(html);

    /* under the markup limit, what follows the deep part is kept */
    html = nested(2000, "<div>", "deep", "</div>", "<p>after</p>");
    x = to_xhtml(html, strlen(html), NULL, &truncated);
    assert_true(truncated);
    s = lv_xml_to_string(x, NULL);
    expect_reparses("2000 divs", s);
    assert_non_null(strstr(s, "<p>after</p></div>"));
    assert_null(strstr(s, "deep"));
    free(s);
    lv_xml_unref(x);
    free(html);

    /* unclosed formatting elements and tables nest too */
    html = nested(5000, "<table><tr><td><span>", "", "", "");
    x = to_xhtml(html, strlen(html), NULL, &truncated);
    assert_true(truncated);
    assert_true(depth_of(x) <= LV_SYNTAX_MAX_DEPTH);
    lv_xml_unref(x);
    free(html);
}

/* Inputs that make HTML's tree construction costly stay within the markup
 * and parser memory limits. */
static void test_costly_html(void **state)
{
    (void)state;
    /* a text after each <p> clones every open distinct <b>: n^2 elements */
    struct lv_buf b = LV_BUF_INIT;
    for (int i = 0; i < 4000; i++)
        lv_buf_addf(&b, "<b id=%d>x<p>", i);
    struct lv_xml *x = (struct lv_xml *)&x;
    struct lv_error err = {0};
    assert_int_equal(lv_ap_html_to_xhtml(b.data, b.len, NULL, &x, NULL, &err), LV_ERR_LIMIT);
    assert_null(x);
    assert_non_null(strstr(err.msg, "to parse"));
    /* a smaller one fits */
    bool truncated = false;
    x = to_xhtml(b.data, (size_t)(strstr(b.data, "<b id=300>") - b.data), NULL, &truncated);
    assert_true(truncated); /* too deep */
    assert_true(depth_of(x) <= LV_SYNTAX_MAX_DEPTH);
    lv_xml_unref(x);
    lv_buf_release(&b);

    struct lv_ap_html_limits lim = LV_AP_HTML_LIMITS_DEFAULT;
    /* the markup limit counts every '<' */
    lim.max_markup = 3;
    const char *html = "a<b>b</b><!-- c -->d<i>e</i>";
    x = to_xhtml(html, strlen(html), &lim, &truncated);
    char *s = lv_xml_to_string(x, NULL);
    expect_str("3 markup", "xhtml", s, DIV "a<b>b</b>d</div>");
    assert_true(truncated);
    free(s);
    lv_xml_unref(x);
}

static void test_depth_limit(void **state)
{
    (void)state;
    struct lv_ap_html_limits lim = LV_AP_HTML_LIMITS_DEFAULT;
    lim.max_depth = 3;
    const char *html = "<b>1<i>2<u>3<s>4</s>5</u>6</i>7</b>8";
    bool truncated = false;
    struct lv_xml *x = to_xhtml(html, strlen(html), &lim, &truncated);
    char *s = lv_xml_to_string(x, NULL);
    expect_str("depth 3", "xhtml", s, DIV "<b>1<i>2<u>35</u>6</i>7</b>8</div>");
    assert_true(truncated);
    free(s);
    lv_xml_unref(x);

    lim.max_depth = 4; /* exactly enough */
    x = to_xhtml(html, strlen(html), &lim, &truncated);
    s = lv_xml_to_string(x, NULL);
    expect_str("depth 4", "xhtml", s, DIV "<b>1<i>2<u>3<s>4</s>5</u>6</i>7</b>8</div>");
    assert_false(truncated);
    free(s);
    lv_xml_unref(x);
}

static void test_node_limit(void **state)
{
    (void)state;
    struct lv_ap_html_limits lim = LV_AP_HTML_LIMITS_DEFAULT;
    lim.max_nodes = 5;
    const char *html = "<p>a</p><p>b</p><p>c</p><p>d</p>";
    bool truncated = false;
    struct lv_xml *x = to_xhtml(html, strlen(html), &lim, &truncated);
    char *s = lv_xml_to_string(x, NULL);
    expect_str("5 nodes", "xhtml", s, DIV "<p>a</p><p>b</p><p/></div>");
    assert_true(truncated);
    free(s);
    lv_xml_unref(x);

    /* many nodes under the default limit */
    struct lv_buf b = LV_BUF_INIT;
    for (size_t i = 0; i < LV_AP_HTML_MAX_NODES; i++)
        lv_buf_adds(&b, "x<br>");
    x = to_xhtml(b.data, b.len, NULL, &truncated);
    assert_true(truncated);
    assert_true(count_nodes(x) <= LV_AP_HTML_MAX_NODES + 1);
    lv_xml_unref(x);
    lv_buf_release(&b);
}

static void test_byte_limit(void **state)
{
    (void)state;
    struct lv_ap_html_limits lim = LV_AP_HTML_LIMITS_DEFAULT;
    lim.max_bytes = 8;
    struct lv_xml *x = (struct lv_xml *)&x;
    struct lv_error err = {0};
    assert_int_equal(lv_ap_html_to_xhtml("<p>123456</p>", 13, &lim, &x, NULL, &err), LV_ERR_LIMIT);
    assert_null(x);
    assert_int_equal(err.code, LV_ERR_LIMIT);
    assert_non_null(strstr(err.msg, "13"));
    assert_int_equal(lv_ap_html_to_xhtml("<p>1</p>", 8, &lim, &x, NULL, NULL), 0);
    lv_xml_unref(x);
    char *t = (char *)&t;
    assert_int_equal(lv_ap_html_to_text("<p>123456</p>", 13, &lim, &t, NULL), LV_ERR_LIMIT);
    assert_null(t);
}

/* ---- XHTML -> HTML ---- */

struct md_case {
    const char *md; /* our blog's markdown: its XHTML is what we publish */
    const char *html;
};

static const struct md_case md_cases[] = {
    {"Hello *world*", "<p>Hello <em>world</em></p>"},
    {"one\n\ntwo", "<p>one</p><p>two</p>"},
    {"line one\nline two", "<p>line one<br>\nline two</p>"},
    {"**bold**, _em_ and `code <x> & \"q\"`",
     "<p><strong>bold</strong>, <em>em</em> and <code>code &lt;x&gt; &amp; \"q\"</code></p>"},
    {"[Libervia](https://libervia.org/?a=1&b=\"2\" \"the site\")",
     "<p><a href=\"https://libervia.org/?a=1&amp;b=&quot;2&quot;\" title=\"the "
     "site\">Libervia</a></p>"},
    {"- a\n- b\n  - c", "<ul><li>a</li><li>b<ul><li>c</li></ul></li></ul>"},
    {"3. three\n4. four", "<ol start=\"3\"><li>three</li><li>four</li></ol>"},
    {"```\nif (a < b && c)\n  x();\n```",
     "<pre><code>if (a &lt; b &amp;&amp; c)\n  x();\n</code></pre>"},
    {"> quoted\n\n---\n\n# Title", "<blockquote><p>quoted</p></blockquote><hr><h1>Title</h1>"},
    {"![a cat](https://e.org/cat.png)", "<p><img src=\"https://e.org/cat.png\" alt=\"a cat\"></p>"},
    {"[bad](javascript:alert(1))", "<p><a>bad</a></p>"},
    /* bare URLs are linked, not inside code or links */
    {"see https://e.org/a_(b) and (https://e.org/c).",
     "<p>see <a href=\"https://e.org/a_(b)\">https://e.org/a_(b)</a> and (<a "
     "href=\"https://e.org/c\">https://e.org/c</a>).</p>"},
    {"`https://e.org/` [https://e.org/x](https://e.org/y)",
     "<p><code>https://e.org/</code> <a href=\"https://e.org/y\">https://e.org/x</a></p>"},
};

static void test_markdown_to_html(void **state)
{
    (void)state;
    for (size_t i = 0; i < LV_ARRAY_LEN(md_cases); i++) {
        const struct md_case *c = &md_cases[i];
        struct lv_xml *x = lv_syntax_markdown_to_xhtml(c->md, strlen(c->md));
        char *got = lv_ap_html_from_xhtml(x, NULL, 0);
        expect_str(c->md, "html", got, c->html);
        free(got);
        lv_xml_unref(x);
    }
}

struct xhtml_case {
    const char *name;
    const char *xhtml; /* parsed as XML, not sanitised: as any tree a caller holds */
    const char *html;
};

static const struct xhtml_case xhtml_cases[] = {
    {"children of the div only", DIV "<p>x</p></div>", "<p>x</p>"},
    {"empty", EMPTY_DIV, ""},
    {"void elements", DIV "a<br/>b<hr/><img src='https://e.org/i.png' alt='i'/></div>",
     "a<br>b<hr><img src=\"https://e.org/i.png\" alt=\"i\">"},
    {"empty non-void elements", DIV "<p/><span/></div>", "<p></p><span></span>"},
    {"escaping",
     DIV "<p title='a \"b\" &amp; &lt;c&gt; &apos;d&apos;'>1 &lt; 2 &amp;&amp; \"q\"</p></div>",
     "<p title=\"a &quot;b&quot; &amp; &lt;c&gt; 'd'\">1 &lt; 2 &amp;&amp; \"q\"</p>"},
    {"xml:lang becomes lang", DIV "<p xml:lang='fr'>oui</p><p lang='de' xml:lang='de'>ja</p></div>",
     "<p lang=\"fr\">oui</p><p lang=\"de\">ja</p>"},
    {"no namespace declarations",
     "<div xmlns='http://www.w3.org/1999/xhtml' xml:lang='en'><p>x</p></div>", "<p>x</p>"},
    {"unsafe trees are sanitised",
     DIV "<p onclick='x' style='s' class='c'>a<script>alert(1)</script></p><a "
         "href='javascript:x'>j</a><iframe src='https://e.org'/></div>",
     "<p>a</p><a>j</a>"},
    {"foreign elements dropped",
     DIV "<svg xmlns='http://www.w3.org/2000/svg'><a href='https://e.org'>s</a></svg>t</div>", "t"},
    {"a non-div root is wrapped", "<p xmlns='http://www.w3.org/1999/xhtml'>x</p>", "<p>x</p>"},
    {"newline at the start of pre kept", DIV "<pre>\nx\n</pre></div>", "<pre>\n\nx\n</pre>"},
    {"tab kept", DIV "a&#9;b</div>", "a\tb"},
};

static void test_xhtml_to_html(void **state)
{
    (void)state;
    static const struct lv_xml_limits lim = {1 << 20, 64, 64, 100000};
    for (size_t i = 0; i < LV_ARRAY_LEN(xhtml_cases); i++) {
        const struct xhtml_case *c = &xhtml_cases[i];
        struct lv_xml *x = NULL;
        struct lv_error err = {0};
        if (lv_xml_parse(c->xhtml, strlen(c->xhtml), &lim, &x, &err) != 0)
            fail_msg("[%s] test input does not parse: %s", c->name, err.msg);
        char *before = lv_xml_to_string(x, NULL);
        char *got = lv_ap_html_from_xhtml(x, NULL, 0);
        expect_str(c->name, "html", got, c->html);
        /* the caller's tree is left alone */
        char *after = lv_xml_to_string(x, NULL);
        expect_str(c->name, "tree unchanged", after, before);
        free(after);
        free(before);
        free(got);
        lv_xml_unref(x);
    }
    char *s = lv_ap_html_from_xhtml(NULL, NULL, 0);
    expect_str("NULL", "html", s, "");
    free(s);
}

/* Invalid UTF-8 in a tree (lv_xml nodes can hold any bytes) never reaches
 * the HTML: JSON needs valid UTF-8. */
static void test_xhtml_to_html_bytes(void **state)
{
    (void)state;
    struct lv_xml *x = lv_xml_new("div", LV_NS_XHTML);
    struct lv_xml *p = lv_xml_new_child(x, "p", NULL);
    lv_xml_set_attr(p, "title", "t\xc3");
    lv_xml_add_text(p,
                    "a\xff\x01"
                    "b\xed\xa0\x80"
                    "c\xc0\xafz",
                    11);
    char *s = lv_ap_html_from_xhtml(x, NULL, 0);
    expect_str("bytes", "html", s,
               "<p title=\"t\xef\xbf\xbd\">a\xef\xbf\xbd"
               "b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
               "c\xef\xbf\xbd\xef\xbf\xbdz</p>");
    free(s);
    lv_xml_unref(x);
}

/* What we publish reads back as what we wrote. */
static void test_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < LV_ARRAY_LEN(md_cases); i++) {
        const struct md_case *c = &md_cases[i];
        if (strstr(c->md, "see "))
            continue; /* linking adds elements */
        struct lv_xml *x = lv_syntax_markdown_to_xhtml(c->md, strlen(c->md));
        char *html = lv_ap_html_from_xhtml(x, NULL, 0);
        struct lv_xml *back = to_xhtml(html, strlen(html), NULL, NULL);
        char *want = lv_xml_to_string(x, NULL);
        char *got = lv_xml_to_string(back, NULL);
        expect_str(c->md, "round trip", got, want);
        free(got);
        free(want);
        free(html);
        lv_xml_unref(back);
        lv_xml_unref(x);
    }
}

/* ---- mentions ---- */

static const struct lv_ap_mention mentions[] = {
    {"https://m.example/users/bob", "@bob@m.example", NULL},
    {"https://gw.example/_ap/actor/louise%40xmpp.example", "@louise_xmpp.example@gw.example",
     "louise@xmpp.example"},
    {"https://m.example/users/bobby", "bobby@m.example", NULL},
    {"https://x.example/u/<\"q\">", "@q@x.example", NULL},
    {"javascript:alert(1)", "@evil@x.example", NULL},
    {NULL, "@nohref@x.example", NULL},
};

#define BOB                                                                                        \
    "<span class=\"h-card\"><a href=\"https://m.example/users/bob\" class=\"u-url "                \
    "mention\">@<span>bob</span></a></span>"
#define LOUISE                                                                                     \
    "<span class=\"h-card\"><a href=\"https://gw.example/_ap/actor/louise%40xmpp.example\" "       \
    "class=\"u-url mention\">@<span>louise_xmpp.example</span></a></span>"
#define BOBBY                                                                                      \
    "<span class=\"h-card\"><a href=\"https://m.example/users/bobby\" class=\"u-url "              \
    "mention\">@<span>bobby</span></a></span>"

static const struct text_case mention_cases[] = {
    {"hi @bob@m.example!", "<p>hi " BOB "!</p>"},
    {"@bob@m.example", "<p>" BOB "</p>"},
    {"(@BOB@M.Example), @bob@m.example.", "<p>(" BOB "), " BOB ".</p>"},
    {"@louise@xmpp.example and @louise_xmpp.example@gw.example",
     "<p>" LOUISE " and " LOUISE "</p>"},
    {"@bobby@m.example @bob@m.example", "<p>" BOBBY " " BOB "</p>"},
    /* not mentions: inside words, longer handles, other hosts, no '@' */
    {"mail@bob@m.example", "<p>mail@bob@m.example</p>"},
    {"@bob@m.example.org @bob@m.examples @bob@m.example-x", "<p>@bob@m.example.org "
                                                            "@bob@m.examples @bob@m.example-x</p>"},
    {"@bob bob@m.example @alice@m.example", "<p>@bob bob@m.example @alice@m.example</p>"},
    {"https://e.org/@bob@m.example", "<p><a href=\"https://e.org/@bob@m.example\">"
                                     "https://e.org/@bob@m.example</a></p>"},
    {"a\xc2\xa0@bob@m.example", "<p>a\xc2\xa0" BOB "</p>"},
    {"@q@x.example",
     "<p><span class=\"h-card\"><a href=\"https://x.example/u/&lt;&quot;q&quot;&gt;\" "
     "class=\"u-url mention\">@<span>q</span></a></span></p>"},
    /* actor URLs that are not http(s) are not linked */
    {"@evil@x.example @nohref@x.example", "<p>@evil@x.example @nohref@x.example</p>"},
};

static void test_mentions(void **state)
{
    (void)state;
    for (size_t i = 0; i < LV_ARRAY_LEN(mention_cases); i++) {
        const struct text_case *c = &mention_cases[i];
        char *got =
            lv_ap_html_from_text(c->html, strlen(c->html), mentions, LV_ARRAY_LEN(mentions));
        expect_str(c->html, "html", got, c->text);
        free(got);
    }
    /* in XHTML: not inside links or code; no mention list, no links */
    const char *md = "@bob@m.example `@bob@m.example` [@bob@m.example](https://e.org/)";
    struct lv_xml *x = lv_syntax_markdown_to_xhtml(md, strlen(md));
    char *got = lv_ap_html_from_xhtml(x, mentions, LV_ARRAY_LEN(mentions));
    expect_str(md, "html", got,
               "<p>" BOB " <code>@bob@m.example</code> <a "
               "href=\"https://e.org/\">@bob@m.example</a></p>");
    free(got);
    got = lv_ap_html_from_xhtml(x, NULL, 0);
    expect_str(md, "no mentions", got,
               "<p>@bob@m.example <code>@bob@m.example</code> <a "
               "href=\"https://e.org/\">@bob@m.example</a></p>");
    free(got);
    lv_xml_unref(x);
    /* a mention we write reads back as a Mastodon one does */
    got = lv_ap_html_from_text("hi @bob@m.example", 17, mentions, 1);
    char *text = NULL;
    assert_int_equal(lv_ap_html_to_text(got, strlen(got), NULL, &text, NULL), 0);
    expect_str("mention back", "text", text, "hi @bob (https://m.example/users/bob)");
    free(text);
    free(got);
}

/* ---- text -> HTML ---- */

static const struct text_case plain_cases[] = {
    {"", ""},
    {"one line", "<p>one line</p>"},
    {"a\nb\r\nc", "<p>a<br>b<br>c</p>"},
    {"p1\n\n \t\np2 <tag> & \"co\"", "<p>p1</p><p>p2 &lt;tag&gt; &amp; \"co\"</p>"},
    {"see https://e.org/x?a=1&b=2, or http://e.org.",
     "<p>see <a href=\"https://e.org/x?a=1&amp;b=2\">https://e.org/x?a=1&amp;b=2</a>, or <a "
     "href=\"http://e.org\">http://e.org</a>.</p>"},
    {"HTTPS://E.ORG/X", "<p><a href=\"HTTPS://E.ORG/X\">HTTPS://E.ORG/X</a></p>"},
    {"not links: ftp://e.org javascript:alert(1) xhttps://e.org https:// https://\"x",
     "<p>not links: ftp://e.org javascript:alert(1) xhttps://e.org https:// https://\"x</p>"},
    {"<https://e.org/a>\n\"https://e.org/b\"",
     "<p>&lt;<a href=\"https://e.org/a\">https://e.org/a</a>&gt;<br>\"<a "
     "href=\"https://e.org/b\">https://e.org/b</a>\"</p>"},
    {"https://e.org/caf\xc3\xa9\xc2\xa0next",
     "<p><a href=\"https://e.org/caf\xc3\xa9\">https://e.org/caf\xc3\xa9</a>\xc2\xa0next</p>"},
};

static void test_text_to_html(void **state)
{
    (void)state;
    for (size_t i = 0; i < LV_ARRAY_LEN(plain_cases); i++) {
        const struct text_case *c = &plain_cases[i];
        char *got = lv_ap_html_from_text(c->html, strlen(c->html), NULL, 0);
        expect_str(c->html, "html", got, c->text);
        free(got);
    }
    char *got = lv_ap_html_from_text(NULL, 0, NULL, 0);
    expect_str("NULL", "html", got, "");
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html_to_xhtml), cmocka_unit_test(test_html_to_text),
        cmocka_unit_test(test_deep_nesting),  cmocka_unit_test(test_costly_html),
        cmocka_unit_test(test_depth_limit),   cmocka_unit_test(test_node_limit),
        cmocka_unit_test(test_byte_limit),    cmocka_unit_test(test_markdown_to_html),
        cmocka_unit_test(test_xhtml_to_html), cmocka_unit_test(test_xhtml_to_html_bytes),
        cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_mentions),
        cmocka_unit_test(test_text_to_html),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
