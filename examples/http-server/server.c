// A minimal HTTP server used as the bundled example: it answers every request
// on port 8080 with a short text body, so a booted image can be checked with curl.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char response[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 24\r\n"
    "Connection: close\r\n"
    "\r\n"
    "hello from a unikernel!\n";

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 8080;

  int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0) {
    perror("socket");
    return 1;
  }
  int reuse = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);

  // Bind every address: QEMU's user network forwards to the guest NIC, not to 127.0.0.1.
  struct sockaddr_in address = {0};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  address.sin_port = htons((unsigned short)port);
  if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0 || listen(listener, 16) < 0) {
    perror("bind/listen");
    return 1;
  }
  printf("listening on port %d\n", port);
  fflush(stdout);

  for (;;) {
    int client = accept(listener, NULL, NULL);
    if (client < 0) continue;
    char request[2048];
    // Read the request head once; the reply does not depend on it.
    if (read(client, request, sizeof request) >= 0) {
      ssize_t ignored = write(client, response, sizeof response - 1);
      (void)ignored;
    }
    close(client);
  }
}
