/**
 * Realistic Kafka records for the benchmark: e-commerce orders, clickstream events and inventory
 * updates as producers send them. Values vary the way real ones do (UUIDs, ISO timestamps,
 * prices, free text with some non-ASCII, nested arrays of line items), so a compressor sees
 * realistic entropy; the protocol tests' generator (testkit/kafka/generate.ts) repeats one
 * template and makes gzip unrealistically fast.
 *
 * Mix of values: ~91.5% compact JSON, ~5% pretty-printed JSON, ~2% UTF-8 text (log lines),
 * ~1% binary (not UTF-8), ~0.5% tombstones. Keys on ~85% of records, headers on ~40%.
 */
import { rng } from '../testkit/kafka/records.ts';

type Random = () => number;

const pick = <T>(random: Random, list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
const int = (random: Random, min: number, max: number): number => min + Math.floor(random() * (max - min + 1));

function uuid(random: Random): string {
  const hex = (n: number) => {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[Math.floor(random() * 16)];
    return s;
  };
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[Math.floor(random() * 4)]}${hex(3)}-${hex(12)}`;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const price = (random: Random, max: number): number => Math.round(random() * max * 100) / 100 + 0.99;

const FIRST = [
  'Anna',
  'Jürgen',
  'Maria',
  'José',
  'Wei',
  'Olga',
  'Sam',
  'Chloé',
  'Ahmed',
  'Priya',
  'Lars',
  'Zoë',
  'Kenji',
  'Fatima',
  'Luca',
];
const LAST = ['Müller', 'Smith', 'García', 'Nowak', 'Rossi', 'Dubois', 'Tanaka', 'Kowalski', 'Johansson', 'Silva', 'Nguyen', 'Öztürk'];
const CITIES = [
  ['DE', 'Berlin'],
  ['DE', 'München'],
  ['FR', 'Paris'],
  ['FR', 'Lyon'],
  ['ES', 'Sevilla'],
  ['IT', 'Milano'],
  ['PL', 'Kraków'],
  ['US', 'Seattle'],
  ['US', 'Austin'],
  ['GB', 'London'],
  ['SE', 'Göteborg'],
  ['JP', '東京'],
  ['BR', 'São Paulo'],
  ['NL', 'Utrecht'],
] as const;
const STREETS = ['Hauptstraße', 'Rue de la Paix', 'Calle Mayor', 'Via Roma', 'Main St', 'Baker Street', 'Kungsgatan', 'Prinsengracht'];
const ADJECTIVES = ['Organic', 'Wireless', 'Ergonomic', 'Vintage', 'Compact', 'Premium', 'Recycled', 'Smart', 'Handmade', 'Waterproof'];
const NOUNS = [
  'Coffee Beans',
  'Headphones',
  'Desk Lamp',
  'Backpack',
  'T-Shirt',
  'Water Bottle',
  'Keyboard',
  'Sneakers',
  'Notebook',
  'Tea Set',
];
const CATEGORIES = ['electronics', 'apparel', 'home', 'grocery', 'sports', 'books', 'beauty', 'toys'];
const CURRENCIES = ['EUR', 'EUR', 'EUR', 'USD', 'USD', 'GBP', 'SEK', 'JPY', 'PLN'];
const STATUSES = ['created', 'paid', 'packed', 'shipped', 'delivered', 'cancelled'];
const PAYMENT = ['card', 'paypal', 'klarna', 'apple_pay', 'sepa_debit', 'gift_card'];
const EVENT_TYPES = ['page_view', 'page_view', 'page_view', 'product_view', 'add_to_cart', 'search', 'click', 'scroll', 'checkout_start'];
const BROWSERS = ['Chrome', 'Safari', 'Firefox', 'Edge', 'Samsung Internet'];
const OS = ['Android', 'iOS', 'Windows', 'macOS', 'Linux'];
const PATHS = ['/', '/c/electronics', '/c/apparel/women', '/p/', '/search', '/cart', '/checkout/shipping', '/account/orders', '/deals'];
const UTM = ['newsletter', 'google', 'facebook', 'instagram', 'affiliate', null, null, null];
const QUERIES = [
  'wireless headphones',
  'kaffee bohnen',
  'chaussures running',
  'desk lamp led',
  'regalo cumpleaños',
  'usb-c cable 2m',
  '"noise cancelling"',
];
const LOG_LEVELS = ['INFO', 'INFO', 'INFO', 'WARN', 'ERROR', 'DEBUG'];
const LOG_MESSAGES = [
  'payment authorised',
  'inventory reservation expired',
  'retrying webhook delivery',
  'cart merged after login',
  'address validation failed: postcode does not match city',
  'rate limit reached for partner api',
];

function sku(random: Random): string {
  return `SKU-${pick(random, CATEGORIES).slice(0, 3).toUpperCase()}-${int(random, 10000, 99999)}`;
}

function customer(random: Random) {
  const [country, city] = pick(random, CITIES);
  const first = pick(random, FIRST);
  const last = pick(random, LAST);
  return {
    id: `cus_${int(random, 100000, 9999999)}`,
    name: `${first} ${last}`,
    email: `${first}.${last}${int(random, 1, 999)}@example.com`.toLowerCase(),
    address: { street: `${pick(random, STREETS)} ${int(random, 1, 240)}`, postcode: String(int(random, 10000, 99999)), city, country },
  };
}

function order(random: Random, now: number) {
  const currency = pick(random, CURRENCIES);
  const items = Array.from({ length: int(random, 1, 5) }, () => {
    const qty = int(random, 1, 4);
    const unitPrice = price(random, 180);
    return {
      sku: sku(random),
      name: `${pick(random, ADJECTIVES)} ${pick(random, NOUNS)}`,
      category: pick(random, CATEGORIES),
      qty,
      unitPrice,
      discount: random() < 0.3 ? Math.round(random() * 25) / 100 : 0,
      ...(random() < 0.4
        ? { tags: Array.from({ length: int(random, 1, 3) }, () => pick(random, ['new', 'sale', 'eco', 'bestseller', 'limited'])) }
        : {}),
    };
  });
  const subtotal = Math.round(items.reduce((sum, item) => sum + item.qty * item.unitPrice * (1 - item.discount), 0) * 100) / 100;
  const shippingCost = subtotal > 50 ? 0 : 4.95;
  return {
    orderId: uuid(random),
    createdAt: iso(now - int(random, 0, 5000)),
    status: pick(random, STATUSES),
    channel: pick(random, ['web', 'ios', 'android', 'marketplace']),
    customer: customer(random),
    items,
    currency,
    amounts: {
      subtotal,
      shipping: shippingCost,
      tax: Math.round(subtotal * 0.19 * 100) / 100,
      total: Math.round((subtotal + shippingCost) * 100) / 100,
    },
    payment: {
      method: pick(random, PAYMENT),
      transactionId: `txn_${uuid(random).replace(/-/g, '').slice(0, 24)}`,
      captured: random() < 0.8,
    },
    ...(random() < 0.15
      ? {
          note: pick(random, [
            'Bitte beim Nachbarn abgeben',
            'Leave at the door "please"',
            'Cadeau — emballage svp',
            'Call before delivery\n2nd floor',
          ]),
        }
      : {}),
    schemaVersion: 3,
  };
}

function click(random: Random, now: number) {
  const [country, city] = pick(random, CITIES);
  const type = pick(random, EVENT_TYPES);
  const path = pick(random, PATHS);
  const utm = pick(random, UTM);
  return {
    eventId: uuid(random),
    type,
    occurredAt: iso(now - int(random, 0, 2000)),
    sessionId: uuid(random),
    userId: random() < 0.6 ? `usr_${int(random, 1, 2_000_000)}` : null,
    page: {
      url: `https://shop.example.com${path}${path === '/p/' ? `${sku(random).toLowerCase()}` : ''}${utm ? `?utm_source=${utm}&utm_medium=email` : ''}`,
      referrer: random() < 0.5 ? `https://${pick(random, ['www.google.com', 'duckduckgo.com', 't.co', 'shop.example.com'])}/` : null,
      title: `${pick(random, ADJECTIVES)} ${pick(random, NOUNS)} | Example Shop`,
    },
    device: {
      os: pick(random, OS),
      browser: pick(random, BROWSERS),
      version: `${int(random, 90, 130)}.0.${int(random, 1000, 6999)}.${int(random, 10, 200)}`,
      screen: [pick(random, [360, 390, 414, 768, 1280, 1440, 1920]), pick(random, [640, 844, 896, 1024, 800, 900, 1080])],
      mobile: random() < 0.6,
    },
    geo: { country, city, lat: Math.round((random() * 140 - 70) * 1e4) / 1e4, lon: Math.round((random() * 360 - 180) * 1e4) / 1e4 },
    ...(type === 'search' ? { query: pick(random, QUERIES), results: int(random, 0, 480) } : {}),
    ...(type === 'add_to_cart' || type === 'product_view'
      ? { product: { sku: sku(random), price: price(random, 250), inStock: random() < 0.9 } }
      : {}),
    ...(type === 'scroll' ? { depth: Math.round(random() * 100) / 100 } : {}),
    experiments: Array.from({ length: int(random, 0, 3) }, () => ({
      id: `exp-${int(random, 1, 60)}`,
      variant: pick(random, ['A', 'B', 'control']),
    })),
  };
}

function inventory(random: Random, now: number) {
  return {
    sku: sku(random),
    warehouse: pick(random, ['FRA1', 'AMS2', 'MAD1', 'SEA3', 'WAW1']),
    available: int(random, 0, 5000),
    reserved: int(random, 0, 200),
    delta: int(random, -20, 50),
    reason: pick(random, ['sale', 'restock', 'return', 'correction', 'damaged']),
    updatedAt: iso(now),
    bins: Array.from({ length: int(random, 1, 4) }, () => ({
      bin: `${pick(random, ['A', 'B', 'C', 'D'])}-${int(random, 1, 40)}-${int(random, 1, 9)}`,
      qty: int(random, 0, 500),
    })),
  };
}

function logLine(random: Random, now: number): string {
  return `${iso(now)} ${pick(random, LOG_LEVELS)} [${pick(random, ['checkout', 'payments', 'search', 'catalog'])}-${int(random, 1, 9)}] ${pick(random, LOG_MESSAGES)} request_id=${uuid(random)} duration_ms=${int(random, 1, 3000)}`;
}

/** Binary values, e.g. Avro/Protobuf with a schema-registry prefix: not UTF-8 (byte 0 then random). */
function binary(random: Random): Buffer {
  const bytes = Buffer.alloc(int(random, 40, 400));
  bytes[0] = 0;
  bytes.writeUInt32BE(int(random, 1, 200), 1);
  for (let i = 5; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  bytes[5] = 0xff; // never valid UTF-8
  return bytes;
}

const utf8 = (s: string): number[] => [...Buffer.from(s, 'utf8')];

/** The topics and partitions of the benchmark batch, and what each carries. */
const PARTITIONS = [
  { topic: 'shop.orders', partition: 0, kind: 'order' },
  { topic: 'shop.orders', partition: 1, kind: 'order' },
  { topic: 'web.clickstream', partition: 0, kind: 'click' },
  { topic: 'web.clickstream', partition: 1, kind: 'click' },
  { topic: 'web.clickstream', partition: 2, kind: 'click' },
  { topic: 'web.clickstream', partition: 3, kind: 'click' },
  { topic: 'inventory.updates', partition: 0, kind: 'inventory' },
] as const;

/** A Lambda Kafka event (`aws:kafka`) of about `targetBytes` of JSON, deterministic for a seed. */
export function realisticEvent(targetBytes: number, seed = 42) {
  const random = rng(seed);
  const records: Record<string, Array<Record<string, unknown>>> = {};
  const offsets = PARTITIONS.map(() => int(random, 1_000_000, 90_000_000));
  let now = Date.UTC(2026, 10, 26, 9, 30, 0);
  let size = 200; // envelope
  while (size < targetBytes) {
    // Clickstream partitions get most of the traffic.
    const index = random() < 0.7 ? int(random, 2, 5) : random() < 0.75 ? int(random, 0, 1) : 6;
    const { topic, partition, kind } = PARTITIONS[index]!;
    now += int(random, 0, 40);
    offsets[index]! += random() < 0.05 ? int(random, 2, 5) : 1; // gaps: compaction, transaction markers
    const roll = random();
    let value: Buffer | null;
    if (roll < 0.005) {
      value = null; // tombstone
    } else if (roll < 0.015) {
      value = binary(random);
    } else if (roll < 0.035) {
      value = Buffer.from(logLine(random, now), 'utf8');
    } else {
      const document = kind === 'order' ? order(random, now) : kind === 'click' ? click(random, now) : inventory(random, now);
      value = Buffer.from(roll < 0.085 ? JSON.stringify(document, null, 2) : JSON.stringify(document), 'utf8');
    }
    const keyText = kind === 'order' ? `cus_${int(random, 100000, 9999999)}` : kind === 'click' ? uuid(random) : sku(random);
    const headers: Array<Record<string, number[]>> = [];
    if (random() < 0.4) {
      headers.push({ traceparent: utf8(`00-${uuid(random).replace(/-/g, '')}-${uuid(random).replace(/-/g, '').slice(0, 16)}-01`) });
      if (random() < 0.5)
        headers.push({ 'content-type': utf8(value === null || roll < 0.035 ? 'application/octet-stream' : 'application/json') });
      if (random() < 0.3) headers.push({ source: utf8(pick(random, ['checkout-svc', 'web-tracker', 'wms-sync'])) });
    }
    const raw: Record<string, unknown> = {
      topic,
      partition,
      offset: offsets[index],
      timestamp: now,
      timestampType: 'CREATE_TIME',
      ...(random() < 0.85 ? { key: Buffer.from(keyText, 'utf8').toString('base64') } : {}),
      ...(value === null ? {} : { value: value.toString('base64') }),
      headers,
    };
    const id = `${topic}-${partition}`;
    (records[id] ??= []).push(raw);
    size += JSON.stringify(raw).length + 1;
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:eu-central-1:123456789012:cluster/shop/00000000-0000-0000-0000-000000000000-1',
    bootstrapServers: 'b-1.shop.kafka.eu-central-1.amazonaws.com:9098,b-2.shop.kafka.eu-central-1.amazonaws.com:9098',
    records,
  };
}
