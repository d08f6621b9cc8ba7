/* Unit tests for the web source's provider mapping (SearxNG). */
#include <stdlib.h>
#include <string.h>

#include "../../sources/web/web_map.h"
#include "tap.h"

static void test_escape_and_urls(void)
{
    const web_provider *p = web_map_provider_find("searxng");
    char *s;

    ok(p != NULL, "searxng provider exists");
    ok(web_map_provider_find("bing") == NULL, "unknown provider is NULL");
    s = web_map_escape("a b&c=d/é");
    is_str(s, "a%20b%26c%3Dd%2F%C3%A9", "query component escaped");
    free(s);
    s = p->url("http://h:8888/", "x y");
    is_str(s, "http://h:8888/search?q=x%20y&format=json", "searxng URL, trailing slash dropped");
    free(s);
}

/* URL, then the id it gets.  The first block is how ids have always been
 * made; the ones after a port with a colon later on once wrote past their
 * buffer. */
static const struct {
    const char *url, *id;
} norm_cases[] = {
    {"HTTPS://Example.ORG:443/Path/#frag", "https://example.org/Path"},
    {"http://example.org", "http://example.org"},
    {"http://example.org/", "http://example.org"},
    {"https://a.org/x/", "https://a.org/x"},
    {"http://Example.COM:80", "http://example.com"},
    {"http://example.com:8080/A/B/", "http://example.com:8080/A/B"},
    {"https://example.com:443/", "https://example.com"},
    {"https://example.com:80/", "https://example.com:80"},
    {"http://example.com:443/", "http://example.com:443"},
    {"http://h/x//", "http://h/x"},
    {"http://h/x?q=a/", "http://h/x?q=a"},
    {"http://h/x/?q=1", "http://h/x/?q=1"},
    {"http://h/x#frag/", "http://h/x"},
    {"https://www.example.com/search?q=rust&page=2#results", "https://www.example.com/search?q=rust&page=2"},
    {"http://h/a/./b/../c", "http://h/a/./b/../c"},
    {"http://h/X%7e?A=B", "http://h/X%7e?A=B"},
    {"https://\xE4\xBE\x8B.JP/x", "https://\xE4\xBE\x8B.jp/x"},
    {"ftp://Files.EXAMPLE.org/pub/", "ftp://files.example.org/pub"},
    {"file:///tmp/x/", "file:///tmp/x"},
    {"http://example.com:80/wiki/File:Foo.jpg", "http://example.com/wiki/File:Foo.jpg"},
    {"https://example.com:443/a:b:c", "https://example.com/a:b:c"},
    {"http://h:80/x?t=10:30", "http://h/x?t=10:30"},
    {"http://h:80/x#t=1:2", "http://h/x"},
    {"http://h:8080/a:b", "http://h:8080/a:b"},
    {"http://h:/x", "http://h/x"},
    {"http://User:Pw@Ex.COM:80/", "http://User:Pw@ex.com"},
    {"http://u@Ex.COM:8080/p:q", "http://u@ex.com:8080/p:q"},
    {"http://[::1]:80/x", "http://[::1]/x"},
    {"http://[::1]/x", "http://[::1]/x"},
    {"https://[2001:DB8::1]:443/", "https://[2001:db8::1]"},
    {"http://[::FFFF]:8080/", "http://[::ffff]:8080"},
    {"http://[FE80::A%25eth0]:80/x", "http://[fe80::a%25eth0]/x"},
    {"http://h?x=1", "http://h/?x=1"},
    /* Refused by libcurl: the id is the URL as given. */
    {"http://h:99999/", "http://h:99999/"},
    {"http://h/a b/", "http://h/a b/"},
    {"Example.com/x/", "Example.com/x/"},
    {"mailto:A@B.c", "mailto:A@B.c"},
    {"", ""},
};

static void test_normalize(void)
{
    for (size_t i = 0; i < sizeof norm_cases / sizeof *norm_cases; i++) {
        char *s = web_map_normalize_url(norm_cases[i].url);
        is_str(s, norm_cases[i].id, "id of \"%s\"", norm_cases[i].url);
        free(s);
    }
}

static void test_parse(void)
{
    const web_provider *p = web_map_provider_find("searxng");
    const char *good = "{\"results\":[{\"url\":\"https://a.org/x/\",\"title\":\"A\",\"content\":\"ca\"},"
                       "{\"title\":\"no url\"},{\"url\":\"https://b.org\",\"content\":\"cb\"}]}";
    web_hits h;
    char err[200];

    ok(p->parse(good, strlen(good), 10, &h, err, sizeof err) == 0, "good response parses");
    is_int(h.n, 2, "a result without a URL is skipped");
    is_str(h.v[0].id, "https://a.org/x", "id is the normalised URL");
    is_str(h.v[0].url, "https://a.org/x/", "url kept as given");
    is_str(h.v[1].title, "", "missing title becomes empty");
    ok(h.v[0].score > h.v[1].score, "scores decrease with rank");
    web_map_hits_release(&h);

    ok(p->parse(good, strlen(good), 1, &h, err, sizeof err) == 0 && h.n == 1, "k caps the hits");
    web_map_hits_release(&h);
    ok(p->parse("<html>", 6, 5, &h, err, sizeof err) == -1 && strstr(err, "malformed JSON"),
       "garbage is an error naming malformed JSON");
    ok(p->parse("{\"results\":[{\"url\":\"x\"", 22, 5, &h, err, sizeof err) == -1,
       "truncated JSON is an error");
    ok(p->parse("{\"answers\":[]}", 14, 5, &h, err, sizeof err) == -1 && strstr(err, "results"),
       "missing results array is an error naming it");
}

int main(void)
{
    test_escape_and_urls();
    test_normalize();
    test_parse();
    return tap_done();
}
