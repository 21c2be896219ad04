import { useState } from 'react';
import type { RequestAccessInput, TargetView } from '../../../../preload/api.ts';
import { duration } from '../../app/format.ts';
import type { Action } from '../../app/use-action.ts';
import { Dialog } from '../../components/Dialog.tsx';
import { ErrorText } from '../../components/ListState.tsx';

const CHOICES = [15 * 60, 30 * 60, 60 * 60, 2 * 3600, 4 * 3600, 8 * 3600];

export function RequestAccessDialog({
  target,
  request,
  onClose,
}: {
  target: TargetView | null;
  request: Action<[RequestAccessInput]>;
  onClose: () => void;
}) {
  const form = useRequestForm(target, request, onClose);
  return (
    <Dialog
      title={target ? `Request access to ${target.name}` : 'Request access'}
      open={target !== null}
      onClose={form.close}
    >
      {target && <RequestAccessForm target={target} request={request} form={form} />}
    </Dialog>
  );
}

/** The request being written: its reason and duration, kept while the dialog is closed and reopened. */
function useRequestForm(
  target: TargetView | null,
  request: Action<[RequestAccessInput]>,
  onClose: () => void,
) {
  const [reason, setReason] = useState('');
  const max = target?.jit?.maxDurationSeconds ?? 3600;
  const choices = [...CHOICES.filter((c) => c < max), max];
  const [seconds, setSeconds] = useState(Math.min(30 * 60, max));
  const close = (): void => {
    setReason('');
    request.clear();
    onClose();
  };
  return { reason, setReason, choices, seconds, setSeconds, close };
}

function RequestAccessForm({
  target,
  request,
  form,
}: {
  target: TargetView;
  request: Action<[RequestAccessInput]>;
  form: ReturnType<typeof useRequestForm>;
}) {
  const { reason, setReason, choices, seconds, setSeconds, close } = form;
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        void request
          .run({ targetId: target.id, reason, duration: `${Math.round(seconds / 60)}m` })
          .then((done) => {
            if (done) close();
          });
      }}
    >
      <p className="hint">
        {target.jit && target.jit.minApprovals > 1
          ? `${target.jit.minApprovals} approvers of ${target.id} must agree.`
          : `An approver of ${target.id} decides; you are notified when they do.`}
      </p>
      <label htmlFor="request-reason">Why do you need it?</label>
      <textarea
        id="request-reason"
        required
        maxLength={2000}
        rows={3}
        value={reason}
        onChange={(event) => setReason(event.target.value)}
        placeholder="Incident 4711: orders stuck in checkout"
      />
      <label htmlFor="request-duration">For how long?</label>
      <select
        id="request-duration"
        value={seconds}
        onChange={(event) => setSeconds(Number(event.target.value))}
      >
        {choices.map((c) => (
          <option key={c} value={c}>
            {duration(c)}
          </option>
        ))}
      </select>
      <ErrorText message={request.error} />
      <div className="dialog-actions">
        <button type="button" onClick={close}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={request.busy || reason.trim() === ''}>
          Send request
        </button>
      </div>
    </form>
  );
}
