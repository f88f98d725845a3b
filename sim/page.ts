/**
 * The root page, the one a technician opens at http://localhost:9042 to see
 * that the plugin is up. It names the plugin and shows the version, in the text
 * and in `<meta name="generator">` [guess, ours: where the version is shown].
 */
const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function rootPage(version: string): string {
  const v = escapeHtml(version);
  return `<!DOCTYPE html>
<html lang="ru">
<head>
<meta charset="utf-8">
<meta name="generator" content="iikoFront.WebApi ${v}">
<title>iikoFront Web API</title>
</head>
<body>
<h1>iikoFront Web API</h1>
<p>Front Web API plugin is running. Version ${v}.</p>
<p>Плагин Front Web API работает. Версия ${v}.</p>
<p>API: <code>/api/login/{moduleId}</code>, <code>/api/orders</code>, <code>/api/users</code>, <code>/api/tables</code>,
<code>/api/sections</code>, <code>/api/products</code>, <code>/api/productgroups</code>, <code>/api/deliveries</code>,
<code>/api/kitchenorders</code>.</p>
</body>
</html>
`;
}
