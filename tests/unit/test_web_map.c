/* Unit tests for the web source's provider mapping (SearxNG). */
#include <stdlib.h>
#include <string.h>

#include "../../sources/web/web_map.h"
#include "tap.h"

static void test_escape_and_urls(void)
{
    const web_provider *p = web_provider_find("searxng");
    char *s;

    ok(p != NULL, "searxng provider exists");
    ok(web_provider_find("bing") == NULL, "unknown provider is NULL");
    s = web_escape("a b&c=d/é");
    is_str(s, "a%20b%26c%3Dd%2F%C3%A9", "query component escaped");
    free(s);
    s = p->url("http://h:8888/", "x y");
    is_str(s, "http://h:8888/search?q=x%20y&format=json", "searxng URL, trailing slash dropped");
    free(s);
    s = web_normalize_url("HTTPS://Example.ORG:443/Path/#frag");
    is_str(s, "https://example.org/Path", "URL normalised: case, port, slash, fragment");
    free(s);
    s = web_normalize_url("http://example.org");
    is_str(s, "http://example.org", "bare host unchanged");
    free(s);
}

static void test_parse(void)
{
    const web_provider *p = web_provider_find("searxng");
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
    web_hits_release(&h);

    ok(p->parse(good, strlen(good), 1, &h, err, sizeof err) == 0 && h.n == 1, "k caps the hits");
    web_hits_release(&h);
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
    test_parse();
    return tap_done();
}
