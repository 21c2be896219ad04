/**
 * The demo shop's customers, orders and payments: deterministic (one seed gives the same rows on every
 * machine, so a guide or a test can point at payment 1) and realistic where masking and detection look.
 * Every value is fake but well-formed the way real data is: card numbers pass Luhn and come from the
 * issuers' test ranges, IBANs pass mod-97, SSNs follow the SSA's rules, phone numbers come from the ranges
 * regulators keep for fiction (555-01xx, 020 7946 0xxx, …) and emails use the reserved example domains.
 */

export type Country = 'US' | 'GB' | 'DE' | 'NL' | 'FR';
export type OrderStatus = 'pending' | 'paid' | 'shipped' | 'delivered' | 'cancelled' | 'refunded';
export type PaymentStatus = 'authorized' | 'captured' | 'refunded' | 'failed';

export interface FakeCustomer {
  id: number;
  fullName: string;
  email: string;
  phone: string;
  /** US customers only. */
  ssn: string | null;
  cardNumber: string;
  /** European customers only. */
  iban: string | null;
  address: string;
  country: Country;
  createdAt: Date;
}

export interface FakeOrder {
  id: number;
  customerId: number;
  reference: string;
  status: OrderStatus;
  /** numeric(10,2) as text, e.g. "129.90". */
  total: string;
  currency: string;
  createdAt: Date;
}

export interface FakePayment {
  id: number;
  orderId: number;
  customerId: number;
  cardNumber: string;
  amount: string;
  currency: string;
  status: PaymentStatus;
  createdAt: Date;
}

export interface FakeShop {
  customers: FakeCustomer[];
  orders: FakeOrder[];
  payments: FakePayment[];
}

export interface FakeShopOptions {
  seed?: number;
  customers?: number;
  orders?: number;
}

const FIRST_DAY = Date.UTC(2023, 0, 1);
const LAST_DAY = Date.UTC(2025, 5, 30);

/**
 * mulberry32: small, fast and the same everywhere, which is all a fixture needs (the masking tests and
 * benchmarks draw their rows from it too). Numbers in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

class Dice {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  weighted<T>(choices: readonly (readonly [T, number])[]): T {
    const total = choices.reduce((sum, [, weight]) => sum + weight, 0);
    let roll = this.next() * total;
    for (const [value, weight] of choices) {
      roll -= weight;
      if (roll < 0) return value;
    }
    return choices[choices.length - 1]![0];
  }
  chance(probability: number): boolean {
    return this.next() < probability;
  }
  digits(count: number): string {
    let text = '';
    for (let i = 0; i < count; i++) text += String(this.int(0, 9));
    return text;
  }
  letters(count: number, alphabet = 'ABCDEFGHJKLMNPRSTUVWXYZ'): string {
    let text = '';
    for (let i = 0; i < count; i++) text += alphabet[this.int(0, alphabet.length - 1)];
    return text;
  }
  between(start: number, end: number): Date {
    return new Date(Math.floor((start + this.next() * (end - start)) / 1000) * 1000);
  }
}

// prettier-ignore
const FIRST_NAMES = [
  'Olivia', 'Liam', 'Amara', 'Noah', 'Sofia', 'Mateo', 'Hannah', 'Lukas', 'Chloé', 'Hugo',
  'Emma', 'Daan', 'Aisha', 'Ethan', 'Mia', 'Jonas', 'Zoë', 'Lucas', 'Grace', 'Felix',
  'Isabella', 'Arjun', 'Léa', 'Samuel', 'Nora', 'Kenji', 'Maya', 'Oscar', 'Leila', 'Finn',
  'Clara', 'Diego', 'Ingrid', 'Tariq', 'Elif', 'Jakob', 'Priyanka', 'Théo', 'Ava', 'Malik',
] as const;

// prettier-ignore
const LAST_NAMES = [
  'Johnson', 'Okonkwo', 'Müller', 'de Vries', 'Martin', 'Nguyen', 'Schneider', 'García', 'Smith',
  'Bakker', 'Dubois', 'Kowalski', 'Patel', 'Fischer', 'Janssen', 'Bernard', 'Williams', 'Rossi',
  'Hoffmann', 'Visser', 'Moreau', 'Andersson', 'Brown', 'Kim', 'Wagner', 'Mulder', 'Laurent',
  'Haddad', 'Taylor', 'Novak', 'Becker', 'Smit', 'Lefèvre', 'Yilmaz', 'Davies', 'Costa',
] as const;

const EMAIL_DOMAINS = ['example.com', 'example.net', 'example.org', 'mail.example', 'inbox.example'];

/** Issuers' published test ranges, so no generated number can be someone's real card. */
const CARD_RANGES = [
  { prefix: '400000', length: 16, groups: [4, 4, 4, 4] }, // Visa
  { prefix: '424242', length: 16, groups: [4, 4, 4, 4] }, // Visa
  { prefix: '555555', length: 16, groups: [4, 4, 4, 4] }, // Mastercard
  { prefix: '222300', length: 16, groups: [4, 4, 4, 4] }, // Mastercard 2-series
  { prefix: '378282', length: 15, groups: [4, 6, 5] }, // American Express
  { prefix: '601111', length: 16, groups: [4, 4, 4, 4] }, // Discover
] as const;

export function luhnCheckDigit(payload: string): string {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    let digit = Number(payload[payload.length - 1 - i]);
    // The check digit will sit to the right, so the payload's last digit is the first one doubled.
    if (i % 2 === 0) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return String((10 - (sum % 10)) % 10);
}

function cardNumber(dice: Dice): string {
  const range = dice.pick(CARD_RANGES);
  const payload = range.prefix + dice.digits(range.length - range.prefix.length - 1);
  const digits = payload + luhnCheckDigit(payload);
  const groups: string[] = [];
  let at = 0;
  for (const size of range.groups) {
    groups.push(digits.slice(at, at + size));
    at += size;
  }
  return groups.join(' ');
}

/** ISO 13616: check digits make the rearranged number ≡ 1 (mod 97); printed in groups of four. */
export function ibanFor(country: string, bban: string): string {
  const numeric = (bban + country + '00').replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  let remainder = 0;
  for (const ch of numeric) remainder = (remainder * 10 + Number(ch)) % 97;
  const check = String(98 - remainder).padStart(2, '0');
  return (country + check + bban).replace(/(.{4})/g, '$1 ').trim();
}

function ssn(dice: Dice): string {
  // The SSA never issues area 000, 666 or 900-999, group 00 or serial 0000.
  let area = dice.int(1, 899);
  if (area === 666) area = 665;
  const group = dice.int(1, 99);
  const serial = dice.int(1, 9999);
  return `${String(area).padStart(3, '0')}-${String(group).padStart(2, '0')}-${String(serial).padStart(4, '0')}`;
}

interface Locale {
  currency: string;
  phone(dice: Dice): string;
  address(dice: Dice): string;
  iban: ((dice: Dice) => string) | null;
  ssn: boolean;
}

const LOCALES: Record<Country, Locale> = {
  US: {
    currency: 'USD',
    phone: (d) =>
      `+1 (${d.pick(['212', '312', '415', '512', '617', '303', '206', '305'])}) 555-01${d.digits(2)}`,
    address: (d) => {
      const [city, state, zip] = d.pick([
        ['Springfield', 'IL', '627'],
        ['Portland', 'OR', '972'],
        ['Austin', 'TX', '787'],
        ['Denver', 'CO', '802'],
        ['Columbus', 'OH', '432'],
        ['Madison', 'WI', '537'],
        ['Raleigh', 'NC', '276'],
      ] as const);
      const street = d.pick(['Maple', 'Oak', 'Cedar', 'Pine', 'Elm', 'Washington', 'Lake', 'Hill']);
      const kind = d.pick(['Street', 'Avenue', 'Drive', 'Lane', 'Road']);
      return `${d.int(10, 9899)} ${street} ${kind}, ${city}, ${state} ${zip}${d.digits(2)}`;
    },
    iban: null,
    ssn: true,
  },
  GB: {
    currency: 'GBP',
    phone: (d) => `+44 20 7946 0${d.digits(3)}`,
    address: (d) => {
      const street = d.pick(['Baker Street', 'Camden Road', 'Mill Lane', 'Church Street', 'Victoria Road']);
      const district = d.pick(['E1', 'N7', 'SE15', 'NW3', 'EC2A', 'W11', 'SW9']);
      return `${d.int(1, 220)} ${street}, London ${district} ${d.int(1, 9)}${d.letters(2, 'ABDEFGHJLNPQRSTUWXYZ')}`;
    },
    iban: (d) => ibanFor('GB', d.pick(['NWBK', 'BARC', 'LOYD', 'MIDL', 'HBUK']) + d.digits(14)),
    ssn: false,
  },
  DE: {
    currency: 'EUR',
    phone: (d) => `+49 30 23125 ${d.digits(3)}`,
    address: (d) => {
      const [city, plz] = d.pick([
        ['Berlin', '10'],
        ['Hamburg', '20'],
        ['München', '80'],
        ['Köln', '50'],
        ['Leipzig', '04'],
      ] as const);
      const street = d.pick(['Haupt', 'Schiller', 'Goethe', 'Linden', 'Bahnhof', 'Garten']);
      return `${street}straße ${d.int(1, 180)}, ${plz}${d.digits(3)} ${city}`;
    },
    iban: (d) => ibanFor('DE', String(d.int(1, 8)) + d.digits(17)),
    ssn: false,
  },
  NL: {
    currency: 'EUR',
    phone: (d) => `+31 20 ${d.digits(3)} ${d.digits(4)}`,
    address: (d) => {
      const street = d.pick(['Keizersgracht', 'Prinsengracht', 'Damrak', 'Overtoom', 'Ferdinand Bolstraat']);
      return `${street} ${d.int(1, 400)}, ${d.int(1011, 1109)} ${d.letters(2, 'ABCEGHJKLMNPRTVWXZ')} Amsterdam`;
    },
    iban: (d) => ibanFor('NL', d.pick(['ABNA', 'INGB', 'RABO', 'SNSB']) + d.digits(10)),
    ssn: false,
  },
  FR: {
    currency: 'EUR',
    phone: (d) => `+33 1 99 00 ${d.digits(2)} ${d.digits(2)}`,
    address: (d) => {
      const street = d.pick(['rue de Rivoli', 'avenue Victor Hugo', 'boulevard Voltaire', 'rue du Bac']);
      return `${d.int(1, 120)} ${street}, 750${String(d.int(1, 20)).padStart(2, '0')} Paris`;
    },
    iban: (d) => ibanFor('FR', d.digits(23)),
    ssn: false,
  },
};

const COUNTRY_WEIGHTS: readonly (readonly [Country, number])[] = [
  ['US', 55],
  ['GB', 15],
  ['DE', 12],
  ['NL', 9],
  ['FR', 9],
];

const ORDER_STATUS_WEIGHTS: readonly (readonly [OrderStatus, number])[] = [
  ['delivered', 55],
  ['shipped', 14],
  ['paid', 10],
  ['pending', 8],
  ['cancelled', 8],
  ['refunded', 5],
];

function emailLocalPart(first: string, last: string): string {
  const ascii = (name: string) =>
    name
      .normalize('NFD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z]/g, '');
  return `${ascii(first)}.${ascii(last)}`;
}

function byTime<T extends { createdAt: Date }>(a: T, b: T): number {
  return a.createdAt.getTime() - b.createdAt.getTime();
}

/** Log-uniform between min and max: many small orders, a few large ones. */
function amount(dice: Dice, min: number, max: number): string {
  const value = Math.exp(Math.log(min) + dice.next() * (Math.log(max) - Math.log(min)));
  return value.toFixed(2);
}

export function generateShop(options: FakeShopOptions = {}): FakeShop {
  const dice = new Dice(options.seed ?? 20_240_917);
  // One die for all three, thrown in this order: the same seed gives the same shop.
  const customers = fakeCustomers(dice, options.customers ?? 300);
  const orders = fakeOrders(dice, customers, options.orders ?? 600);
  const payments = fakePayments(dice, customers, orders);
  return { customers, orders, payments };
}

function fakeCustomers(dice: Dice, count: number): FakeCustomer[] {
  const emails = new Set<string>();
  const customers = Array.from({ length: count }, (): FakeCustomer => {
    const country = dice.weighted(COUNTRY_WEIGHTS);
    const locale = LOCALES[country];
    const first = dice.pick(FIRST_NAMES);
    const last = dice.pick(LAST_NAMES);
    const domain = dice.pick(EMAIL_DOMAINS);
    let email = `${emailLocalPart(first, last)}@${domain}`;
    for (let n = 2; emails.has(email); n++) email = `${emailLocalPart(first, last)}${n}@${domain}`;
    emails.add(email);
    return {
      id: 0,
      fullName: `${first} ${last}`,
      email,
      phone: locale.phone(dice),
      ssn: locale.ssn ? ssn(dice) : null,
      cardNumber: cardNumber(dice),
      iban: locale.iban ? locale.iban(dice) : null,
      address: locale.address(dice),
      country,
      createdAt: dice.between(FIRST_DAY, LAST_DAY - 30 * 86_400_000),
    };
  });
  // Ids grow with time, as they would in a real table.
  customers.sort(byTime).forEach((customer, index) => (customer.id = index + 1));
  return customers;
}

function fakeOrders(dice: Dice, customers: FakeCustomer[], count: number): FakeOrder[] {
  const orders = Array.from({ length: count }, (): FakeOrder => {
    const customer = dice.pick(customers);
    return {
      id: 0,
      customerId: customer.id,
      reference: '',
      status: dice.weighted(ORDER_STATUS_WEIGHTS),
      total: amount(dice, 6, 900),
      currency: LOCALES[customer.country].currency,
      createdAt: dice.between(customer.createdAt.getTime(), LAST_DAY),
    };
  });
  orders.sort(byTime).forEach((order, index) => {
    order.id = index + 1;
    order.reference = `SO-${100_000 + order.id}`;
  });
  // The guide refunds payment 1: make it the capture of a delivered order.
  orders[0]!.status = 'delivered';
  return orders;
}

function fakePayments(dice: Dice, customers: FakeCustomer[], orders: FakeOrder[]): FakePayment[] {
  const payments: FakePayment[] = [];
  const pay = (order: FakeOrder, cardNumber: string, status: PaymentStatus, delaySeconds: number): void => {
    payments.push({
      id: payments.length + 1,
      orderId: order.id,
      customerId: order.customerId,
      cardNumber,
      amount: order.total,
      currency: order.currency,
      status,
      createdAt: new Date(order.createdAt.getTime() + delaySeconds * 1000),
    });
  };
  for (const order of orders) {
    const card = customers[order.customerId - 1]!.cardNumber;
    if (order.status === 'cancelled') {
      if (dice.chance(0.5)) pay(order, card, 'failed', dice.int(5, 120));
      continue;
    }
    // A declined first attempt with another card now and then, as checkout logs show.
    if (order.id > 1 && dice.chance(0.07)) pay(order, cardNumber(dice), 'failed', dice.int(5, 60));
    const status: PaymentStatus =
      order.status === 'pending' ? 'authorized' : order.status === 'refunded' ? 'refunded' : 'captured';
    pay(order, card, status, dice.int(61, 600));
  }
  return payments;
}
