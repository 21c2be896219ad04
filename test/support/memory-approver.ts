import type {
  ApprovalOutcome,
  ApprovalRequest,
  ApprovalTicket,
  Approver,
} from '../../tunnel/policy/approver.ts';

interface Waiting {
  id: string;
  request: ApprovalRequest;
  decide(outcome: ApprovalOutcome): void;
  withdrawn?: string;
  /** Set once decided: nextRequest() skips it. */
  done?: true;
}

/** An approver a test plays the human for: it sees each request and approves or denies it. */
export class MemoryApprover implements Approver {
  readonly requests: Waiting[] = [];
  private next = 1;
  private listeners: ((waiting: Waiting) => void)[] = [];

  async requestApproval(request: ApprovalRequest): Promise<ApprovalTicket> {
    const id = String(this.next++);
    let decide!: (outcome: ApprovalOutcome) => void;
    const decision = new Promise<ApprovalOutcome>((resolve) => (decide = resolve));
    const waiting: Waiting = {
      id,
      request,
      decide: (outcome) => {
        waiting.done = true;
        decide(outcome);
      },
    };
    this.requests.push(waiting);
    this.listeners.splice(0).forEach((listener) => listener(waiting));
    return { id, decision, withdraw: (reason) => (waiting.withdrawn = reason) };
  }

  /** Resolves with the next request, or the one already waiting. */
  nextRequest(): Promise<Waiting> {
    const open = this.requests.find((r) => !r.withdrawn && !r.done);
    if (open) return Promise.resolve(open);
    return new Promise((resolve) => this.listeners.push(resolve));
  }
}
