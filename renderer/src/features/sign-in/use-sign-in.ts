/** Signing in: the hub address, the browser step under way, cancelling it, and why it failed. */
import { useState } from 'react';
import type { AccountView } from '../../../../preload/api.ts';
import { api, CallFailed, unwrap } from '../../app/api.ts';
import { useAction } from '../../app/use-action.ts';

export function useSignIn(account: AccountView, rememberedHub: string) {
  const initial =
    account.state === 'signed-out' || account.state === 'signing-in' ? account.hubUrl : rememberedHub;
  const [hubUrl, setHubUrl] = useState(initial);
  const signIn = useAction(async () => {
    try {
      await unwrap(api().account.signIn(hubUrl.trim()));
    } catch (error) {
      if (!(error instanceof CallFailed && error.code === 'cancelled')) throw error;
    }
  });
  const cancel = useAction(async () => unwrap(api().account.cancelSignIn()));
  const waiting = account.state === 'signing-in';
  const error = signIn.error ?? (account.state === 'signed-out' ? account.error : null);
  return {
    hubUrl,
    setHubUrl,
    signIn,
    cancel,
    waiting,
    error,
    authorizationUrl: waiting ? account.authorizationUrl : null,
  };
}
