// Sends a fixed set of calls through the real, unmodified @segment/analytics-node and
// @rudderstack/rudder-sdk-node to the gateway, and prints what each library put on the
// wire (its messages, as the test then looks for them in bronze) as one JSON line.
// Usage: node send.mjs <gateway url> <write key> <anonymous id>
import { Analytics } from '@segment/analytics-node'
import RudderAnalytics from '@rudderstack/rudder-sdk-node'
import { gunzipSync } from 'node:zlib'

const [host, writeKey, anonymousId] = process.argv.slice(2)
const sent = { segment: [], rudderstack: [] }

const segment = new Analytics({ writeKey, host, flushAt: 10, maxRetries: 3 })
segment.on('http_request', (request) => sent.segment.push(...JSON.parse(request.body).batch))
segment.on('http_response', (response) => { sent.segmentStatus = response.status })
segment.page({ anonymousId, name: 'Home', properties: { url: 'http://localhost/shop/', title: 'Shop' } })
segment.track({ anonymousId, userId: 'user-segment', event: 'Product Added',
  properties: { product_id: 'sku-1', price: 12.5 } })
segment.track({ anonymousId, event: 'Order Completed',
  properties: { order_id: 'o-1', revenue: 12.5, currency: 'EUR', products: [{ product_id: 'sku-1' }] } })
segment.identify({ anonymousId, userId: 'user-segment', traits: { email: 'jane@example.com' } })
await segment.closeAndFlush()

const rudder = new RudderAnalytics(writeKey, { dataPlaneUrl: host, flushAt: 10, flushInterval: 100 })
// Each call's callback gets the request body it went out in (gzipped by default).
const delivered = (call, message) => new Promise((resolve, reject) => {
  rudder[call](message, (error, data) => {
    if (error) reject(error)
    const body = Buffer.isBuffer(data) ? JSON.parse(gunzipSync(data)) : data
    resolve(body.batch.find((item) => item.messageId && item.type === call &&
      (item.event ?? item.name) === (message.event ?? message.name)))
  })
})
sent.rudderstack = await Promise.all([
  delivered('track', { anonymousId, event: 'Checkout Started', properties: { step: 1 } }),
  delivered('screen', { anonymousId, name: 'Cart' }),
  delivered('track', { userId: 'user-rudder', event: 'Coupon Applied', properties: { coupon: 'SPRING' } }),
])
console.log(JSON.stringify(sent))
