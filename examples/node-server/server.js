// A small JavaScript HTTP server for the Node example image. It listens on
// every address, because QEMU's user network delivers to the guest's NIC.
const http = require('node:http');

const port = Number(process.env.PORT ?? 8080);

const server = http.createServer((request, response) => {
  response.writeHead(200, { 'content-type': 'text/plain' });
  response.end(`hello from node ${process.version} in a unikernel\n`);
});

server.listen(port, '0.0.0.0', () => {
  console.log(`listening on port ${port}`);
});
