/* fuzz_config.c - fuzz target for the config parser (daemon/config.c).
 * Any input must be either refused with a message or parsed into a config
 * that formats to text which parses back to the same text (what the writer
 * writes, the reader reads). Also feeds each input line to the address
 * parser. Seeds: tests/fuzz/corpus/config/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    config c, d;
    char err[512];
    char *text = NULL, *again = NULL;
    size_t len = 0, len2 = 0;

    config_init(&c);
    config_init(&d);
    if (config_parse_buffer(&c, (const char *)data, size, err, sizeof err) == 0) {
        if (config_format(&c, &text, &len, err, sizeof err) != 0) {
            fprintf(stderr, "parsed config does not format: %s\n", err);
            abort();
        }
        if (config_parse_buffer(&d, text, len, err, sizeof err) != 0) {
            fprintf(stderr, "formatted config does not parse: %s\n%s", err, text);
            abort();
        }
        if (config_format(&d, &again, &len2, err, sizeof err) != 0 || len != len2 ||
            memcmp(text, again, len) != 0) {
            fprintf(stderr, "format is not stable:\n%s---\n%s", text, again ? again : "");
            abort();
        }
        for (size_t i = 0; i < c.npeers; i++) {
            if (config_peer_find(&c, c.peers[i].name) != &c.peers[i] ||
                config_peer_find_fingerprint(&c, c.peers[i].fingerprint) != &c.peers[i])
                abort();
        }
    }

    /* the first line (up to 300 bytes) as an address */
    char addr[301], host[256];
    int port;
    size_t n = 0;
    while (n < size && n < sizeof addr - 1 && data[n] != '\n' && data[n] != '\0') {
        addr[n] = (char)data[n];
        n++;
    }
    addr[n] = '\0';
    if (config_addr_parse(host, sizeof host, &port, addr) == 0 && (port < 0 || port > 65535))
        abort();

    free(text);
    free(again);
    config_free(&c);
    config_free(&d);
    return 0;
}
