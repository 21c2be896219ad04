// electron-builder's afterSign hook: notarizes the signed macOS app with Apple's notary service when
// credentials are in the environment (an App Store Connect API key, preferred, or an Apple ID with an
// app-specific password), and says why it skips otherwise. CommonJS: electron-builder require()s it.
'use strict';

const path = require('node:path');

/** Which notarytool credentials the environment holds, or why there are none. */
function credentials(env) {
  if (env.APPLE_API_KEY && env.APPLE_API_KEY_ID && env.APPLE_API_ISSUER) {
    return {
      appleApiKey: env.APPLE_API_KEY,
      appleApiKeyId: env.APPLE_API_KEY_ID,
      appleApiIssuer: env.APPLE_API_ISSUER,
    };
  }
  if (env.APPLE_ID && env.APPLE_APP_SPECIFIC_PASSWORD && env.APPLE_TEAM_ID) {
    return {
      appleId: env.APPLE_ID,
      appleIdPassword: env.APPLE_APP_SPECIFIC_PASSWORD,
      teamId: env.APPLE_TEAM_ID,
    };
  }
  return undefined;
}

async function notarizeApp(context, options = {}) {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line) => console.log(line));
  if (context.electronPlatformName !== 'darwin') return { notarized: false, reason: 'not a macOS build' };
  const found = credentials(env);
  if (!found) {
    const reason =
      'no Apple credentials (APPLE_API_KEY, APPLE_API_KEY_ID, APPLE_API_ISSUER, or APPLE_ID, APPLE_APP_SPECIFIC_PASSWORD, APPLE_TEAM_ID)';
    log(`notarize: skipped, ${reason}; the app is signed but Gatekeeper will warn on other Macs`);
    return { notarized: false, reason };
  }
  const appPath = path.join(context.appOutDir, `${context.packager.appInfo.productFilename}.app`);
  const notarize = options.notarize ?? require('@electron/notarize').notarize;
  log(`notarize: submitting ${appPath}`);
  await notarize({ appPath, ...found });
  log('notarize: done, the ticket is stapled');
  return { notarized: true, appPath };
}

module.exports = notarizeApp;
module.exports.default = notarizeApp;
module.exports.credentials = credentials;
