// The Telegram Bot API emulator for tempcheck's end-to-end tests: the npm package
// telegram-test-api 4.2.1 (from the repository's package.json, `npm ci`) with run-time patches
// so that python-telegram-bot 22 understands its answers, plus flood control and counters.
//
// usage: node tests/e2e/telegram/server.js PORT
// env:   FLOOD_PER_SEC=N        answer 429 (retry_after 1) after N sends a second to one chat
//        FLOOD_WINDOW_MS=M      count those sends over M ms instead of a second (stricter)
//        FLOOD_TOTAL_PER_SEC=N  answer 429 (retry_after 1) after N sends a second in all
//
// Test helpers (POST, JSON): /stats {token} -> sends per chat, 429s given (per chat and in
// all), and every message text by chat; /answers -> the callback queries answered;
// /reset {flood_per_sec, flood_window_ms, flood_total_per_sec} -> forget every message,
// webhook, answer and count, and take new flood settings (absent: none), so that one emulator
// serves one test after another.
const TelegramServer = require('telegram-test-api');
const { routes } = require('telegram-test-api/lib/routes/index');
const multer = require('multer');

const PORT = Number(process.argv[2] || 9000);
const BOT = { id: 666, is_bot: true, first_name: 'Tempcheck Test', username: 'tempcheck_test_bot',
  can_join_groups: false, can_read_all_group_messages: false, supports_inline_queries: false };
let FLOOD = Number(process.env.FLOOD_PER_SEC || 0);
let FLOOD_WINDOW = Number(process.env.FLOOD_WINDOW_MS || 1000);
let FLOOD_TOTAL = Number(process.env.FLOOD_TOTAL_PER_SEC || 0);
let recent = {};                      // chat_id -> timestamps of sends in the last second
let recentAll = [];                   // timestamps of all sends in the last second
const refused = { chat: 0, total: 0 };
let srv;

const now = () => Date.now();
const seconds = () => Math.floor(Date.now() / 1000);

function botMessage(body, token, extra = {}) {  // store like sendMessage; a Telegram-shaped Message
  const m = srv.addBotMessage({ ...body, ...extra }, token);
  // Only Message fields go back: the request's own options (link_preview_options as a JSON
  // string, say) are not part of a Message and PTB would fail to read them.
  const message = { message_id: m.message_id, date: seconds(), chat: m.chat, from: BOT };
  if (m.text !== undefined) message.text = m.text;
  if (m.reply_markup) message.reply_markup = m.reply_markup;
  for (const k of ['photo', 'document']) if (extra[k]) message[k] = extra[k];
  return message;
}
function tooMany(res, which) {
  refused[which] += 1;
  return res.status(429).json({ ok: false, error_code: 429,
    description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } });
}

// Routes are registered in the constructor in array order: unshift puts these before the
// package's own, so they win.
const upload = multer({ storage: multer.memoryStorage() });
routes.unshift((app) => {
  app.use('/bot:token/:method', upload.any());          // multipart uploads (sendPhoto bytes)
  app.use('/bot:token/:method', (req, res, next) => {   // flood control
    if (!/^send|^edit|^copy|^forward/.test(req.params.method) || req.params.method === 'sendChatAction') {
      return next();
    }
    const t = now();
    if (FLOOD_TOTAL) {
      recentAll = recentAll.filter((s) => t - s < 1000);
      if (recentAll.length >= FLOOD_TOTAL) return tooMany(res, 'total');
    }
    if (FLOOD) {
      const chat = String(req.body.chat_id);
      const list = (recent[chat] = (recent[chat] || []).filter((s) => t - s < FLOOD_WINDOW));
      if (list.length >= FLOOD) return tooMany(res, 'chat');
      list.push(t);
    }
    if (FLOOD_TOTAL) recentAll.push(t);
    return next();
  });
  app.all('/bot:token/getMe', (req, res) => res.json({ ok: true, result: BOT }));
  app.all('/bot:token/sendMessage', (req, res) =>
    res.json({ ok: true, result: botMessage(req.body, req.params.token) }));
  app.all('/bot:token/sendPhoto', (req, res) => res.json({ ok: true, result: botMessage(
    req.body, req.params.token,
    { photo: [{ file_id: 'p1', file_unique_id: 'u1', width: 1, height: 1 }] }) }));
  app.all('/bot:token/sendDocument', (req, res) => res.json({ ok: true, result: botMessage(
    req.body, req.params.token, { document: { file_id: 'd1', file_unique_id: 'du1' } }) }));
  app.all('/bot:token/editMessageReplyMarkup', (req, res) => {
    srv.editMessageReplyMarkup(req.body);
    res.json({ ok: true, result: { message_id: Number(req.body.message_id), date: seconds(),
      chat: { id: Number(req.body.chat_id), type: 'private' }, from: BOT } });
  });
  app.all('/bot:token/editMessageText', (req, res) => {
    srv.editMessageText(req.body);
    res.json({ ok: true, result: { message_id: Number(req.body.message_id), date: seconds(),
      chat: { id: Number(req.body.chat_id), type: 'private' }, from: BOT, text: req.body.text } });
  });
  for (const m of ['setMyCommands', 'deleteMyCommands', 'setChatMenuButton', 'sendChatAction']) {
    app.all(`/bot:token/${m}`, (req, res) => res.json({ ok: true, result: true }));
  }
  app.all('/bot:token/getMyCommands', (req, res) => res.json({ ok: true, result: [] }));
  app.all('/bot:token/setWebhook', (req, res) => {
    srv.setWebhook({ ...req.query, ...req.body }, req.params.token);
    res.json({ ok: true, result: true });
  });
  app.all('/bot:token/deleteWebhook', (req, res) => {
    srv.deleteWebhook(req.params.token);
    res.json({ ok: true, result: true });
  });
  app.all('/bot:token/getWebhookInfo', (req, res) => {
    const wh = srv.webhooks[req.params.token];
    res.json({ ok: true, result: { url: wh ? wh.url : '', has_custom_certificate: false,
      pending_update_count: 0 } });
  });
  app.all('/bot:token/answerCallbackQuery', (req, res) => {
    (srv.answers = srv.answers || []).push(req.body);
    res.json({ ok: true, result: true });
  });
  app.post('/reset', (req, res) => {
    srv.storage.userMessages = [];
    srv.storage.botMessages = [];
    srv.webhooks = {};
    srv.answers = [];
    recent = {};
    recentAll = [];
    refused.chat = 0;
    refused.total = 0;
    FLOOD = Number(req.body.flood_per_sec || 0);
    FLOOD_WINDOW = Number(req.body.flood_window_ms || 1000);
    FLOOD_TOTAL = Number(req.body.flood_total_per_sec || 0);
    res.json({ ok: true, result: true });
  });
  app.post('/answers', (req, res) => res.json({ ok: true, result: srv.answers || [] }));
  app.post('/stats', (req, res) => {
    const byChat = {};
    for (const u of srv.storage.botMessages) {
      if (req.body.token && u.botToken !== req.body.token) continue;
      (byChat[String(u.message.chat_id)] = byChat[String(u.message.chat_id)] || [])
        .push(u.message.text || '');
    }
    res.json({ ok: true, result: { texts: byChat, refused } });
  });
});

// Updates: keep every field the client gave, add the CallbackQuery.chat_instance PTB needs.
TelegramServer.formatUpdate = (u) => ('callbackQuery' in u
  ? { update_id: u.updateId, callback_query: { chat_instance: '1', ...u.callbackQuery,
      id: String(u.callbackId), botToken: undefined, date: undefined } }
  : { update_id: u.updateId, message: { ...u.message, message_id: u.messageId, botToken: undefined } });

// Webhook delivery as Telegram does it: with the secret token header when one was set, and
// without crashing when the bot refuses it. Node's own fetch (Node 18+).
TelegramServer.prototype.addUserUpdate = async function addUserUpdate(update) {
  const wh = this.webhooks[update.botToken];
  if (wh) {
    const headers = { 'Content-Type': 'application/json' };
    if (wh.secret_token) headers['X-Telegram-Bot-Api-Secret-Token'] = wh.secret_token;
    try {
      const r = await fetch(wh.url, { method: 'POST', headers,
        body: JSON.stringify(TelegramServer.formatUpdate(update)) });
      if (!r.ok) console.error('webhook delivery refused:', r.status);
    } catch (e) {
      console.error('webhook delivery failed:', e.message);
    }
  } else {
    this.storage.userMessages.push(update);
  }
  this.updateId += 1;
};

(async () => {
  srv = new TelegramServer({ port: PORT, host: '127.0.0.1', storeTimeout: 3600 });
  await srv.start();
  console.log('telegram emulator listening on', srv.config.apiURL);
})();
