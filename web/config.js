// @ts-check
// Where the app finds the backend. The only file to edit when deploying (see README, "Web client").
//   httpBase: the HTTP API's base URL, e.g. "https://abc123.execute-api.us-east-1.amazonaws.com";
//             "" means the origin that served this page (the local gateway serves both).
//   wsUrl:    the WebSocket API's URL, e.g. "wss://def456.execute-api.us-east-1.amazonaws.com/prod";
//             "" means ws(s)://<this host>/ws.
export default {
  httpBase: "",
  wsUrl: "",
};
